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
    /// probsStarts[s] = offset of sequence s's attention probabilities (Σ_{t<s} H·L_t²).
    var probsStarts: [Int] = []
    var x = 0, h1 = 0, qkv = 0, attn = 0, proj = 0, ffn = 0, probs = 0

    public init() {}

    func prepare(config: EncoderConfig, batch: TokenBatch) {
        let n = batch.tokenCount, c = config.hiddenSize, f = config.intermediateSize
        starts = batch.starts
        probsStarts = [0]
        for s in 0..<batch.count { probsStarts.append(probsStarts[s] + config.heads * batch.length(s) * batch.length(s)) }
        let probsCount = probsStarts[batch.count]
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

    /// Below this many tokens in a batch, projections use the packed kernel instead of sgemm
    /// (OpenBLAS repacks the whole weight per call; measured by `intentloop-bench linear`).
    public static let packedRowsLimit = 16

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
            let threads = blasThreads()
            let probsStarts = ws.probsStarts
            // Element-wise and per-sequence work is split over the same threads as the BLAS.
            func rows(_ body: (Range<Int>) -> Void) { parallelRanges(n, threads: threads, grain: 32, body) }
            func layerNorm(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: Int, _ bias: Int) {
                rows { r in
                    layerNormForward(out + r.lowerBound * c, mean: nil, rstd: nil, inp + r.lowerBound * c,
                                     weight: w.pointer(weight), bias: w.pointer(bias), rows: r.count, channels: c, eps: config.layerNormEps)
                }
            }
            /// One sgemm over the block, or the packed few-rows kernel below `packedRowsLimit` rows.
            func linear(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, weight: Int, packed: Int, bias: Int, _ i: Int, _ o: Int) {
                if n < Self.packedRowsLimit {
                    packedLinearForward(out, inp, packed: w.packed.pointer + packed, w.pointer(bias), rows: n, inFeatures: i, outFeatures: o, threads: threads)
                } else {
                    linearForward(out, inp, w.pointer(weight), w.pointer(bias), rows: n, inFeatures: i, outFeatures: o)
                }
            }
            layerNorm(x, proj, w.embeddingNormWeight, w.embeddingNormBias)
            for l in w.layers {
                linear(qkv, x, weight: l.qkvWeight, packed: l.qkvPacked, bias: l.qkvBias, c, 3 * c)
                parallelRanges(b, threads: threads, grain: 4) { seqs in
                    attentionForward(attn, probs: probs + probsStarts[seqs.lowerBound], qkv, starts: starts + seqs.lowerBound,
                                     sequences: seqs.count, heads: h, channels: c)
                }
                linear(proj, attn, weight: l.outWeight, packed: l.outPacked, bias: l.outBias, c, c)
                residualForward(proj, proj, x, count: n * c)
                layerNorm(h1, proj, l.norm1Weight, l.norm1Bias)
                linear(ffn, h1, weight: l.ffnInWeight, packed: l.ffnInPacked, bias: l.ffnInBias, c, f)
                rows { r in geluForward(ffn + r.lowerBound * f, ffn + r.lowerBound * f, count: r.count * f) }
                linear(proj, ffn, weight: l.ffnOutWeight, packed: l.ffnOutPacked, bias: l.ffnOutBias, f, c)
                residualForward(proj, proj, h1, count: n * c)
                layerNorm(x, proj, l.norm2Weight, l.norm2Bias)
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
