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
    var x = 0, h1 = 0, qkv = 0, attn = 0, proj = 0, ffn = 0, probs = 0, rowScale = 0, rowZero = 0
    /// The int8 path's quantized activations [N, max(C, F)] and int32 sums [N, max(3C, F)].
    var bytes: UnsafeMutablePointer<UInt8> = .allocate(capacity: 1)
    var bytesCount = 1
    var sums: UnsafeMutablePointer<Int32> = .allocate(capacity: 1)
    var sumsCount = 1

    public init() {}

    deinit {
        bytes.deallocate()
        sums.deallocate()
    }

    func prepareInt8(config: EncoderConfig, tokens n: Int) {
        let widest = max(config.hiddenSize, config.intermediateSize)
        if n * widest > bytesCount {
            bytes.deallocate()
            bytesCount = n * widest
            bytes = .allocate(capacity: bytesCount)
        }
        let outputs = max(3 * config.hiddenSize, config.intermediateSize)
        if n * outputs > sumsCount {
            sums.deallocate()
            sumsCount = n * outputs
            sums = .allocate(capacity: sumsCount)
        }
    }

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
        proj = take(n * c); ffn = take(n * f); probs = take(probsCount); rowScale = take(n); rowZero = take(n)
        buffer.reserve(next)
    }
}

/// A BERT-family encoder (post-layer-norm transformer) over packed, unpadded batches.
public struct Encoder: Sendable {
    public let config: EncoderConfig
    public let weights: EncoderWeights
    /// The projections in int8 when this encoder runs at `.int8` precision.
    public let int8: Int8Weights?

    /// Below this many tokens in a batch, projections use the packed kernel instead of sgemm
    /// (OpenBLAS repacks the whole weight per call; measured by `intentloop-bench linear`).
    public static let packedRowsLimit = 16

    /// An encoder over `weights`; at `.int8` its projections are quantized here, once (see
    /// `Precision.effective` for CPUs that cannot). `keepFP32` leaves chosen projections in fp32.
    public init(weights: EncoderWeights, precision: Precision = .fp32,
                keepFP32: (Int, ProjectionSite) -> Bool = { _, _ in false }) {
        config = weights.config
        self.weights = weights
        let quantized = precision.effective == .int8 ? Int8Weights(weights, keepFP32: keepFP32) : nil
        int8 = quantized?.layers.contains { $0.qkv != nil || $0.attentionOutput != nil || $0.intermediate != nil || $0.output != nil } == true
            ? quantized : nil
    }

    /// The precision the forward pass runs at.
    public var precision: Precision { int8 == nil ? .fp32 : .int8 }

    /// Runs the encoder; returns a pointer to the final hidden states [N, C] inside `ws`,
    /// valid until the workspace's next use. Element-wise work, attention, the packed and the int8
    /// kernels split over `threads` (default: OpenBLAS's thread count, which sgemm uses).
    @discardableResult
    public func forward(_ batch: TokenBatch, workspace ws: EncoderWorkspace, threads: Int? = nil) -> UnsafeMutablePointer<Float> {
        ws.prepare(config: config, batch: batch)
        if int8 != nil { ws.prepareInt8(config: config, tokens: batch.tokenCount) }
        let n = batch.tokenCount, b = batch.count
        let c = config.hiddenSize, f = config.intermediateSize, h = config.heads
        let w = weights
        let buf = ws.buffer.pointer
        let x = buf + ws.x, h1 = buf + ws.h1, qkv = buf + ws.qkv, attn = buf + ws.attn
        let proj = buf + ws.proj, ffn = buf + ws.ffn, probs = buf + ws.probs
        let rowScale = buf + ws.rowScale, rowZero = buf + ws.rowZero, bytes = ws.bytes, sums = ws.sums
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
            let threads = max(1, threads ?? blasThreads())
            let probsStarts = ws.probsStarts
            // Element-wise and per-sequence work is split over the same threads as the BLAS.
            func rows(_ body: (Range<Int>) -> Void) { parallelRanges(n, threads: threads, grain: 32, body) }
            func layerNorm(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: Int, _ bias: Int) {
                rows { r in
                    layerNormForward(out + r.lowerBound * c, mean: nil, rstd: nil, inp + r.lowerBound * c,
                                     weight: w.pointer(weight), bias: w.pointer(bias), rows: r.count, channels: c, eps: config.layerNormEps)
                }
            }
            /// A projection then `after`: in int8 when quantized (rows quantized, one integer GEMM
            /// per thread's column slice, `after` fused into its epilogue), else one sgemm over the
            /// block, or the packed few-rows kernel below `packedRowsLimit` rows.
            func linear(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, weight: Int, packed: Int, bias: Int,
                        _ i: Int, _ o: Int, int8 q: QuantizedMatrix?, then after: Int8Epilogue = .none) {
                if let q {
                    rows { r in
                        quantizeRowsForward(bytes + r.lowerBound * i, scale: rowScale + r.lowerBound, zero: rowZero + r.lowerBound,
                                            inp + r.lowerBound * i, rows: r.count, channels: i)
                    }
                    int8LinearForward(out, bytes, rowScale: rowScale, rowZero: rowZero, q, w.pointer(bias), accumulator: sums,
                                      rows: n, epilogue: after, threads: threads)
                    return
                }
                if n < Self.packedRowsLimit {
                    packedLinearForward(out, inp, packed: w.packed.pointer + packed, w.pointer(bias), rows: n, inFeatures: i, outFeatures: o, threads: threads)
                } else {
                    linearForward(out, inp, w.pointer(weight), w.pointer(bias), rows: n, inFeatures: i, outFeatures: o)
                }
                switch after {
                case .none: break
                case .gelu: rows { r in geluForward(out + r.lowerBound * o, out + r.lowerBound * o, count: r.count * o) }
                case .residual(let skip): residualForward(out, out, skip, count: n * o)
                }
            }
            layerNorm(x, proj, w.embeddingNormWeight, w.embeddingNormBias)
            for (index, l) in w.layers.enumerated() {
                let q = int8?.layers[index]
                linear(qkv, x, weight: l.qkvWeight, packed: l.qkvPacked, bias: l.qkvBias, c, 3 * c, int8: q?.qkv)
                parallelRanges(b, threads: threads, grain: 4) { seqs in
                    attentionForward(attn, probs: probs + probsStarts[seqs.lowerBound], qkv, starts: starts + seqs.lowerBound,
                                     sequences: seqs.count, heads: h, channels: c)
                }
                linear(proj, attn, weight: l.outWeight, packed: l.outPacked, bias: l.outBias, c, c,
                       int8: q?.attentionOutput, then: .residual(x))
                layerNorm(h1, proj, l.norm1Weight, l.norm1Bias)
                linear(ffn, h1, weight: l.ffnInWeight, packed: l.ffnInPacked, bias: l.ffnInBias, c, f, int8: q?.intermediate, then: .gelu)
                linear(proj, ffn, weight: l.ffnOutWeight, packed: l.ffnOutPacked, bias: l.ffnOutBias, f, c,
                       int8: q?.output, then: .residual(h1))
                layerNorm(x, proj, l.norm2Weight, l.norm2Bias)
            }
        }
        return x
    }

    /// Pooled sentence vectors [B, C] of a batch, L2-normalised when asked.
    public func embed(_ batch: TokenBatch, pooling: Pooling, normalize: Bool, workspace ws: EncoderWorkspace, threads: Int? = nil) -> [Float] {
        let hidden = forward(batch, workspace: ws, threads: threads)
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
