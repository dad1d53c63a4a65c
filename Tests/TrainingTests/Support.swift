import Foundation
import IntentKernels
import IntentModel

enum TestPaths {
    static let tinyBERT = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("IntentModelTests/Goldens/tiny-bert")
}

/// A tiny random-weight BERT (layer norms near 1, other weights small) for gradient checks.
func tinyRandomWeights(seed: UInt64) -> EncoderWeights {
    let config = EncoderConfig(architecture: .bert, vocabSize: 20, hiddenSize: 8, layers: 2, heads: 2,
                               intermediateSize: 12, maxPositions: 16, typeVocabSize: 2, layerNormEps: 1e-5)
    let w = EncoderWeights(config: config)
    var rng = SplitMix64(seed: seed)
    for i in 0..<w.buffer.count { w.buffer.pointer[i] = Float.random(in: -0.5..<0.5, using: &rng) }
    let c = config.hiddenSize
    for offset in [w.embeddingNormWeight] + w.layers.flatMap({ [$0.norm1Weight, $0.norm2Weight] }) {
        for j in 0..<c { w.buffer.pointer[offset + j] += 1 }
    }
    w.repack()
    return w
}

func randomize(_ p: AdapterParameters, seed: UInt64, scale: Float = 0.5) {
    var rng = SplitMix64(seed: seed)
    for i in 0..<p.buffer.count { p.buffer.pointer[i] = Float.random(in: -scale..<scale, using: &rng) }
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-train-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
