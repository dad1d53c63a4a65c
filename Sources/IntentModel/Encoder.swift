import IntentKernels
import Tokenization

/// How a sequence's token states become one vector.
public enum Pooling: String, Sendable, CaseIterable {
    /// Mean over the sequence's tokens (sentence-transformers' default for MiniLM).
    case mean
    /// The [CLS] token's state.
    case cls
}

/// Scratch activations for one forward pass at a time; grows to the largest batch seen.
/// Owned by one thread (an inference thread, a CLI command), never shared.
public final class EncoderWorkspace {
    let buffer = FloatBuffer(count: 0)
    var starts: [Int] = []
    var x = 0, h1 = 0, qkv = 0, attn = 0, proj = 0, ffn = 0, probs = 0

    public init() {}

    func prepare(config: EncoderConfig, batch: TokenBatch) {
        let n = batch.tokenCount, c = config.hiddenSize, f = config.intermediateSize
        starts = batch.starts
        let probsCount = starts.withUnsafeBufferPointer {
            attentionProbsCount(starts: $0.baseAddress!, sequences: batch.count, heads: config.heads)
        }
        var next = 0
        func take(_ k: Int) -> Int {
            defer { next += k }
            return next
        }
        x = take(n * c); h1 = take(n * c); qkv = take(3 * n * c); attn = take(n * c)
        proj = take(n * c); ffn = take(n * f); probs = take(probsCount)
        buffer.reserve(next)
    }
}

/// A BERT-family encoder (post-layer-norm transformer) over packed, unpadded batches.
public struct Encoder: Sendable {
    public let config: EncoderConfig
    public let weights: EncoderWeights

    public init(weights: EncoderWeights) {
        config = weights.config
        self.weights = weights
    }

    /// Runs the encoder; returns a pointer to the final hidden states [N, C] inside `ws`,
    /// valid until the workspace's next use.
    @discardableResult
    public func forward(_ batch: TokenBatch, workspace ws: EncoderWorkspace) -> UnsafeMutablePointer<Float> {
        ws.prepare(config: config, batch: batch)
        let n = batch.tokenCount, b = batch.count
        let c = config.hiddenSize, f = config.intermediateSize, h = config.heads
        let w = weights
        let buf = ws.buffer.pointer
        let x = buf + ws.x, h1 = buf + ws.h1, qkv = buf + ws.qkv, attn = buf + ws.attn
        let proj = buf + ws.proj, ffn = buf + ws.ffn, probs = buf + ws.probs
        ws.starts.withUnsafeBufferPointer { startsBuffer in
            let starts = startsBuffer.baseAddress!
            batch.ids.withUnsafeBufferPointer { ids in
                embeddingForward(
                    proj, ids: ids.baseAddress!, types: nil, starts: starts, sequences: b,
                    wordTable: w.pointer(w.wordEmbeddings), vocabulary: config.vocabSize,
                    positionTable: w.pointer(w.positionEmbeddings), maxPositions: config.maxPositions,
                    typeTable: w.tokenTypeEmbeddings.map { w.pointer($0) }, typeCount: config.typeVocabSize, channels: c
                )
            }
            layerNormForward(
                x, mean: nil, rstd: nil, proj, weight: w.pointer(w.embeddingNormWeight),
                bias: w.pointer(w.embeddingNormBias), rows: n, channels: c, eps: config.layerNormEps
            )
            for l in w.layers {
                linearForward(qkv, x, w.pointer(l.qkvWeight), w.pointer(l.qkvBias), rows: n, inFeatures: c, outFeatures: 3 * c)
                attentionForward(attn, probs: probs, qkv, starts: starts, sequences: b, heads: h, channels: c)
                linearForward(proj, attn, w.pointer(l.outWeight), w.pointer(l.outBias), rows: n, inFeatures: c, outFeatures: c)
                residualForward(proj, proj, x, count: n * c)
                layerNormForward(
                    h1, mean: nil, rstd: nil, proj, weight: w.pointer(l.norm1Weight), bias: w.pointer(l.norm1Bias),
                    rows: n, channels: c, eps: config.layerNormEps
                )
                linearForward(ffn, h1, w.pointer(l.ffnInWeight), w.pointer(l.ffnInBias), rows: n, inFeatures: c, outFeatures: f)
                geluForward(ffn, ffn, count: n * f)
                linearForward(proj, ffn, w.pointer(l.ffnOutWeight), w.pointer(l.ffnOutBias), rows: n, inFeatures: f, outFeatures: c)
                residualForward(proj, proj, h1, count: n * c)
                layerNormForward(
                    x, mean: nil, rstd: nil, proj, weight: w.pointer(l.norm2Weight), bias: w.pointer(l.norm2Bias),
                    rows: n, channels: c, eps: config.layerNormEps
                )
            }
        }
        return x
    }

    /// Pooled sentence vectors [B, C] of a batch, L2-normalised when asked.
    public func embed(_ batch: TokenBatch, pooling: Pooling, normalize: Bool, workspace ws: EncoderWorkspace) -> [Float] {
        let hidden = forward(batch, workspace: ws)
        let b = batch.count, c = config.hiddenSize
        var out = [Float](repeating: 0, count: b * c)
        ws.starts.withUnsafeBufferPointer { starts in
            out.withUnsafeMutableBufferPointer { o in
                switch pooling {
                case .mean: meanPoolForward(o.baseAddress!, hidden, starts: starts.baseAddress!, sequences: b, channels: c)
                case .cls: clsPoolForward(o.baseAddress!, hidden, starts: starts.baseAddress!, sequences: b, channels: c)
                }
                if normalize { l2NormalizeRows(o.baseAddress!, rows: b, channels: c) }
            }
        }
        return out
    }
}
