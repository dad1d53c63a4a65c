import Foundation
import IntentKernels
import Tokenization

/// One classified utterance: the winning intent, its probability and the k most likely intents.
public struct Prediction: Sendable, Equatable {
    public struct Scored: Sendable, Equatable {
        public let intent: String
        public let probability: Float
    }
    public let intent: String
    public let confidence: Float
    public let top: [Scored]
    /// Probability gap between the best two intents (small = uncertain).
    public var margin: Float { top.count > 1 ? top[0].probability - top[1].probability : 1 }
}

/// Base encoder with an adapter merged into a private copy of its weights (production and shadow
/// adapters each run at base-model cost) and the adapter's head on top.
public struct IntentClassifier: Sendable {
    public let tokenizer: BertTokenizer
    public let encoder: Encoder
    public let adapter: Adapter

    /// Merges `adapter` into a copy of the base weights; at `.int8` the merged projections are
    /// then quantized (here, at load: never on the request path).
    public init(base: BaseModel, adapter: Adapter, precision: Precision = .fp32,
                keepFP32: (Int, ProjectionSite) -> Bool = { _, _ in false }) throws(ModelError) {
        guard adapter.parameters.encoder == base.encoder.config else {
            throw ModelError(file: base.directory.path, problem: "the adapter was trained on a differently shaped base model")
        }
        tokenizer = base.tokenizer
        encoder = Encoder(weights: base.encoder.weights.merged(with: adapter.parameters), precision: precision, keepFP32: keepFP32)
        self.adapter = adapter
    }

    public var labels: [String] { adapter.labels }

    /// Logits [B, K] for a batch of texts.
    public func logits(_ texts: [String], workspace: EncoderWorkspace, threads: Int? = nil) -> [Float] {
        let p = adapter.parameters
        let pooled = encoder.embed(tokenizer.encodeBatch(texts), pooling: adapter.pooling, normalize: false, workspace: workspace, threads: threads)
        var logits = [Float](repeating: 0, count: texts.count * p.classes)
        linearForward(&logits, pooled, p.pointer(p.headWeight), p.pointer(p.headBias),
                      rows: texts.count, inFeatures: p.encoder.hiddenSize, outFeatures: p.classes)
        return logits
    }

    /// Predictions for `texts`, `batchSize` at a time (`threads`: see `Encoder.forward`).
    public func predict(_ texts: [String], topK: Int = 5, batchSize: Int = 32, workspace: EncoderWorkspace = EncoderWorkspace(),
                        threads: Int? = nil) -> [Prediction] {
        let k = adapter.parameters.classes
        var out: [Prediction] = []
        out.reserveCapacity(texts.count)
        var start = 0
        while start < texts.count {
            let chunk = Array(texts[start..<min(start + batchSize, texts.count)])
            let z = logits(chunk, workspace: workspace, threads: threads)
            var probs = [Float](repeating: 0, count: z.count)
            softmaxForward(&probs, z, rows: chunk.count, classes: k)
            for r in 0..<chunk.count {
                let row = probs[(r * k)..<((r + 1) * k)]
                let ranked = row.indices.sorted { row[$0] > row[$1] }.prefix(max(1, min(topK, k)))
                let top = ranked.map { Prediction.Scored(intent: labels[$0 - r * k], probability: row[$0]) }
                out.append(Prediction(intent: top[0].intent, confidence: top[0].probability, top: top))
            }
            start += chunk.count
        }
        return out
    }
}
