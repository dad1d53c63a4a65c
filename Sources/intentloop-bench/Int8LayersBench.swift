import ArgumentParser
import Foundation
import IntentData
import IntentKernels
import IntentModel
import Tokenization
import Training

/// Where int8 loses accuracy: an adapter evaluated in fp32, fully in int8, and with only one
/// projection kind (across layers) or one layer (all its projections) in int8; each with its
/// accuracy and the cosine of its pooled embeddings to fp32's. Decides which parts stay fp32.
struct Int8LayersBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "int8-layers")

    @Option(help: "Adapter directory.") var adapter: String
    @Option(help: "Labelled test set (FILE or FILE#split).") var data: String
    @Option(help: "Base model directory.") var model: String?
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Utterances for the embedding cosine.") var cosineCount = 1000

    func run() throws {
        setBLASThreads(threads)
        let base = try BaseModel.load(model.map { URL(fileURLWithPath: $0) } ?? ModelCache.defaultBaseModel)
        let loaded = try Adapter.load(from: URL(fileURLWithPath: adapter), encoder: base.encoder.config)
        let examples = try DatasetFile.load(data)
        let texts = Array(examples.map(\.text).prefix(cosineCount))
        let layers = base.encoder.config.layers
        var variants: [(String, Precision, (Int, ProjectionSite) -> Bool)] = [
            ("fp32", .fp32, { _, _ in false }),
            ("int8, every projection", .int8, { _, _ in false }),
        ]
        for site in ProjectionSite.allCases {
            variants.append(("int8 \(site.rawValue) only", .int8, { _, s in s != site }))
        }
        for layer in 0..<layers {
            variants.append(("int8 layer \(layer) only", .int8, { l, _ in l != layer }))
        }
        var reference: [Float] = []
        var rows: [[String: Any]] = []
        for (name, precision, keep) in variants {
            let classifier = try IntentClassifier(base: base, adapter: loaded, precision: precision, keepFP32: keep)
            let t0 = now()
            let e = Evaluation(classifier: classifier, examples: examples)
            let seconds = now() - t0
            let ws = EncoderWorkspace()
            var pooled: [Float] = []
            for start in stride(from: 0, to: texts.count, by: 64) {
                let chunk = Array(texts[start..<min(start + 64, texts.count)])
                pooled += classifier.encoder.embed(base.tokenizer.encodeBatch(chunk), pooling: loaded.pooling, normalize: true, workspace: ws)
            }
            if reference.isEmpty { reference = pooled }
            let c = base.encoder.config.hiddenSize
            // Both are L2-normalised: the cosine is the dot product.
            let cosines = pooled.withUnsafeBufferPointer { p in
                reference.withUnsafeBufferPointer { r in
                    (0..<texts.count).map { i in dot(p.baseAddress! + i * c, r.baseAddress! + i * c, count: c) }
                }
            }
            rows.append([
                "variant": name, "precision": classifier.encoder.precision.rawValue, "accuracy": e.accuracy, "macro_f1": e.macroF1,
                "cosine_mean": Double(cosines.reduce(0, +)) / Double(cosines.count), "cosine_min": Double(cosines.min() ?? 1),
                "seconds": seconds, "examples": e.count,
            ])
            FileHandle.standardError.write(Data("[int8-layers] \(name): accuracy \(e.accuracy)\n".utf8))
        }
        try printJSON(["adapter": adapter, "data": data, "weight_max": Int8Support.weightMax, "cpu_level": "\(Int8Support.level)",
                       "variants": rows])
    }
}
