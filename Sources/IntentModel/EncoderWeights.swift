import IntentKernels
import Foundation

/// Offsets of one layer's parameters inside `EncoderWeights.buffer`.
/// Query, key and value are stored fused as one [3C, C] matrix (one sgemm per layer).
public struct LayerOffsets: Sendable {
    public var qkvWeight = 0, qkvBias = 0, outWeight = 0, outBias = 0
    public var norm1Weight = 0, norm1Bias = 0
    public var ffnInWeight = 0, ffnInBias = 0, ffnOutWeight = 0, ffnOutBias = 0
    public var norm2Weight = 0, norm2Bias = 0
    /// Offsets of the packed copies (see `packWeight`) inside `EncoderWeights.packed`.
    public var qkvPacked = 0, outPacked = 0, ffnInPacked = 0, ffnOutPacked = 0
}

/// Every parameter of an encoder in one allocation, with offsets into it (llm.c layout).
/// Read-only once loaded; shared between threads.
public final class EncoderWeights: @unchecked Sendable {
    public let config: EncoderConfig
    public let buffer: FloatBuffer
    public let wordEmbeddings: Int
    public let positionEmbeddings: Int
    public let tokenTypeEmbeddings: Int?
    public let embeddingNormWeight: Int
    public let embeddingNormBias: Int
    public let layers: [LayerOffsets]

    /// Zero-filled weights of the given shape.
    public init(config: EncoderConfig) {
        self.config = config
        let c = config.hiddenSize, f = config.intermediateSize
        var next = 0
        func take(_ n: Int) -> Int {
            defer { next += n }
            return next
        }
        wordEmbeddings = take(config.vocabSize * c)
        positionEmbeddings = take(config.maxPositions * c)
        tokenTypeEmbeddings = config.typeVocabSize > 0 ? take(config.typeVocabSize * c) : nil
        embeddingNormWeight = take(c)
        embeddingNormBias = take(c)
        var layers: [LayerOffsets] = []
        var nextPacked = 0
        func takePacked(_ i: Int, _ o: Int) -> Int {
            defer { nextPacked += packedWeightCount(inFeatures: i, outFeatures: o) }
            return nextPacked
        }
        for _ in 0..<config.layers {
            var l = LayerOffsets()
            l.qkvWeight = take(3 * c * c); l.qkvBias = take(3 * c)
            l.outWeight = take(c * c); l.outBias = take(c)
            l.norm1Weight = take(c); l.norm1Bias = take(c)
            l.ffnInWeight = take(f * c); l.ffnInBias = take(f)
            l.ffnOutWeight = take(c * f); l.ffnOutBias = take(c)
            l.norm2Weight = take(c); l.norm2Bias = take(c)
            l.qkvPacked = takePacked(c, 3 * c); l.outPacked = takePacked(c, c)
            l.ffnInPacked = takePacked(c, f); l.ffnOutPacked = takePacked(f, c)
            layers.append(l)
        }
        self.layers = layers
        buffer = FloatBuffer(count: next)
        packed = FloatBuffer(count: nextPacked)
    }

    /// The layers' projection weights re-laid for `packedLinearForward` (few-row batches).
    /// Derived from `buffer`: call `repack()` after changing a projection weight.
    public let packed: FloatBuffer

    public func repack() {
        let c = config.hiddenSize, f = config.intermediateSize
        for l in layers {
            packWeight(packed.pointer + l.qkvPacked, pointer(l.qkvWeight), inFeatures: c, outFeatures: 3 * c)
            packWeight(packed.pointer + l.outPacked, pointer(l.outWeight), inFeatures: c, outFeatures: c)
            packWeight(packed.pointer + l.ffnInPacked, pointer(l.ffnInWeight), inFeatures: c, outFeatures: f)
            packWeight(packed.pointer + l.ffnOutPacked, pointer(l.ffnOutWeight), inFeatures: f, outFeatures: c)
        }
    }

    @inline(__always)
    public func pointer(_ offset: Int) -> UnsafeMutablePointer<Float> { buffer.pointer + offset }

    /// A deep copy (for merging an adapter into a private set of weights).
    public func copy() -> EncoderWeights {
        let other = EncoderWeights(config: config)
        other.buffer.pointer.update(from: buffer.pointer, count: buffer.count)
        other.packed.pointer.update(from: packed.pointer, count: packed.count)
        return other
    }

    /// Loads `model.safetensors` (BERT or DistilBERT names, with or without their prefix).
    public static func load(config: EncoderConfig, file: SafeTensorsFile) throws(ModelError) -> EncoderWeights {
        guard let names = TensorNames.detect(config.architecture, in: file.tensors.keys) else {
            throw ModelError(file: file.path, problem: "no \(config.architecture.rawValue) word embeddings (embeddings.word_embeddings.weight) in this file")
        }
        let w = EncoderWeights(config: config)
        let c = config.hiddenSize, f = config.intermediateSize
        func put(_ name: String, _ shape: [Int], at offset: Int) throws(ModelError) {
            let values = try file.floats(name, shape: shape)
            values.withUnsafeBufferPointer { w.pointer(offset).update(from: $0.baseAddress!, count: values.count) }
        }
        try put(names.wordEmbeddings, [config.vocabSize, c], at: w.wordEmbeddings)
        try put(names.positionEmbeddings, [config.maxPositions, c], at: w.positionEmbeddings)
        if let tt = w.tokenTypeEmbeddings { try put(names.tokenTypeEmbeddings, [config.typeVocabSize, c], at: tt) }
        try put(names.embeddingNorm + ".weight", [c], at: w.embeddingNormWeight)
        try put(names.embeddingNorm + ".bias", [c], at: w.embeddingNormBias)
        for (i, l) in w.layers.enumerated() {
            for (slot, p) in [TensorNames.Projection.query, .key, .value].enumerated() {
                let m = names.module(p, layer: i)
                try put(m + ".weight", [c, c], at: l.qkvWeight + slot * c * c)
                try put(m + ".bias", [c], at: l.qkvBias + slot * c)
            }
            let attnOut = names.module(.attentionOutput, layer: i)
            try put(attnOut + ".weight", [c, c], at: l.outWeight)
            try put(attnOut + ".bias", [c], at: l.outBias)
            try put(names.attentionNorm(layer: i) + ".weight", [c], at: l.norm1Weight)
            try put(names.attentionNorm(layer: i) + ".bias", [c], at: l.norm1Bias)
            let ffnIn = names.module(.intermediate, layer: i)
            try put(ffnIn + ".weight", [f, c], at: l.ffnInWeight)
            try put(ffnIn + ".bias", [f], at: l.ffnInBias)
            let ffnOut = names.module(.output, layer: i)
            try put(ffnOut + ".weight", [c, f], at: l.ffnOutWeight)
            try put(ffnOut + ".bias", [c], at: l.ffnOutBias)
            try put(names.outputNorm(layer: i) + ".weight", [c], at: l.norm2Weight)
            try put(names.outputNorm(layer: i) + ".bias", [c], at: l.norm2Bias)
        }
        w.repack()
        return w
    }
}
