import IntentKernels
import IntentModel
import Tokenization

/// The frozen base encoder with a trainable adapter (unmerged LoRA pairs + head): the forward
/// pass that keeps what the backward pass needs, and the backward pass for the trainable
/// parameters only. Frozen weights get no gradient buffers; activation gradients flow down only
/// as far as the lowest layer that has a LoRA pair.
final class LoRAModel {
    let base: EncoderWeights
    let params: AdapterParameters
    let grads: FloatBuffer
    let pooling: Pooling
    var dropoutGenerator: SplitMix64
    /// Dropout inside the frozen encoder when training (transformers' train mode; 0 = off):
    /// on the embeddings and both residual branches, and on the attention probabilities.
    var hiddenDropout: Float = 0
    var attentionDropout: Float = 0
    let ws = TrainingWorkspace()
    let threads: Int
    /// What the last forward pass dropped, for the backward pass.
    private var droppedHidden = false, droppedAttention = false

    init(base: EncoderWeights, params: AdapterParameters, pooling: Pooling, seed: UInt64, threads: Int) {
        self.base = base
        self.params = params
        self.pooling = pooling
        grads = FloatBuffer(count: params.buffer.count)
        dropoutGenerator = SplitMix64(seed: seed ^ 0xD50F)
        self.threads = threads
    }

    var config: EncoderConfig { base.config }
    var classes: Int { params.classes }

    /// Column offset of a projection's output inside the fused qkv block, or nil.
    private func qkvSlot(_ p: TensorNames.Projection) -> Int? {
        switch p {
        case .query: 0
        case .key: 1
        case .value: 2
        default: nil
        }
    }

    /// Layer norm over rows split across the threads, saving mean and rstd.
    private func normForward(_ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                             _ inp: UnsafePointer<Float>, weight: Int, bias: Int, rows n: Int) {
        let c = config.hiddenSize, eps = config.layerNormEps, w = base
        parallelRanges(n, threads: threads, grain: 32) { r in
            let o = r.lowerBound
            layerNormForward(out + o * c, mean: mean + o, rstd: rstd + o, inp + o * c, weight: w.pointer(weight), bias: w.pointer(bias),
                             rows: r.count, channels: c, eps: eps)
        }
    }

    /// Layer-norm backward (input gradient only: the norms are frozen) over rows split across the threads.
    private func normBackward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: Int,
                              mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows n: Int) {
        let c = config.hiddenSize, w = base
        parallelRanges(n, threads: threads, grain: 32) { r in
            let o = r.lowerBound
            layerNormBackward(dinp: dinp + o * c, dweight: nil, dbias: nil, dout: dout + o * c, inp: inp + o * c, weight: w.pointer(weight),
                              mean: mean + o, rstd: rstd + o, rows: r.count, channels: c)
        }
    }

    /// Runs the encoder and head; returns logits [B, K] (valid until the next forward).
    /// `training` turns dropout on (LoRA, and the encoder's own when its rates are set).
    @discardableResult
    func forward(_ batch: TokenBatch, training: Bool) -> UnsafeMutablePointer<Float> {
        let cfg = config, w = base, p = params
        ws.prepare(config: cfg, lora: p.lora, classes: classes, batch: batch)
        let n = batch.tokenCount, b = batch.count, c = cfg.hiddenSize, f = cfg.intermediateSize, h = cfg.heads
        let r = p.lora.rank, s = p.lora.scaling
        let dropout = training ? p.lora.dropout : 0
        droppedHidden = training && hiddenDropout > 0
        droppedAttention = training && attentionDropout > 0
        ws.starts.withUnsafeBufferPointer { sb in
            let starts = sb.baseAddress!
            batch.ids.withUnsafeBufferPointer { ids in
                embeddingForward(
                    ws.p(ws.layers[0].res1), ids: ids.baseAddress!, types: nil, starts: starts, sequences: b,
                    wordTable: w.pointer(w.wordEmbeddings), vocabulary: cfg.vocabSize,
                    positionTable: w.pointer(w.positionEmbeddings), maxPositions: cfg.maxPositions,
                    typeTable: w.tokenTypeEmbeddings.map { w.pointer($0) }, typeCount: cfg.typeVocabSize, channels: c)
            }
            layerNormForward(ws.p(ws.layers[0].input), mean: nil, rstd: nil, ws.p(ws.layers[0].res1),
                             weight: w.pointer(w.embeddingNormWeight), bias: w.pointer(w.embeddingNormBias),
                             rows: n, channels: c, eps: cfg.layerNormEps)
            if droppedHidden {
                let x0 = ws.p(ws.layers[0].input)
                dropoutForward(x0, mask: ws.p(ws.embeddingMask), x0, count: n * c, probability: hiddenDropout, generator: &dropoutGenerator)
            }
            for (li, l) in w.layers.enumerated() {
                let a = ws.layers[li]
                let x = ws.p(a.input)
                let slots = Array(p.slots(layer: li))
                /// out (leading dimension ld) += s · dropout(inp) · Aᵀ · Bᵀ for the slot of projection `proj`.
                func lora(_ proj: TensorNames.Projection, _ inp: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, ld: Int) {
                    guard let k = slots.firstIndex(where: { $0.projection == proj }) else { return }
                    let slot = slots[k]
                    let xd = ws.p(ws.loraScratch), mask = ws.p(a.loraMask[k]), u = ws.p(a.loraU[k])
                    dropoutForward(xd, mask: mask, inp, count: n * slot.inFeatures, probability: dropout, generator: &dropoutGenerator)
                    gemm(u, xd, p.pointer(slot.a), m: n, n: r, k: slot.inFeatures, transB: true)
                    gemm(out, u, p.pointer(slot.b), m: n, n: slot.outFeatures, k: r, transB: true, alpha: s, beta: 1, ldc: ld)
                }
                let qkv = ws.p(a.qkv)
                linearForward(qkv, x, w.pointer(l.qkvWeight), w.pointer(l.qkvBias), rows: n, inFeatures: c, outFeatures: 3 * c)
                for proj in [TensorNames.Projection.query, .key, .value] { lora(proj, x, qkv + qkvSlot(proj)! * c, ld: 3 * c) }
                let probsStarts = ws.probsStarts
                let dropProbs = droppedAttention, probsMask = ws.p(a.probsMask)
                if dropProbs {
                    dropoutMask(probsMask, count: probsStarts[b], probability: attentionDropout, generator: &dropoutGenerator)
                }
                parallelRanges(b, threads: threads, grain: 4) { q in
                    attentionForward(ws.p(a.attn), probs: ws.p(a.probs) + probsStarts[q.lowerBound], qkv, starts: starts + q.lowerBound,
                                     sequences: q.count, heads: h, channels: c, dropMask: dropProbs ? probsMask + probsStarts[q.lowerBound] : nil)
                }
                /// out = dropout(branch) + skip (in place over branch).
                func residual(_ branch: UnsafeMutablePointer<Float>, _ skip: UnsafePointer<Float>, mask: Int) {
                    if droppedHidden {
                        dropoutMask(ws.p(mask), count: n * c, probability: hiddenDropout, generator: &dropoutGenerator)
                        residualDropoutForward(branch, branch: branch, mask: ws.p(mask), skip: skip, count: n * c)
                    } else {
                        residualForward(branch, branch, skip, count: n * c)
                    }
                }
                let res1 = ws.p(a.res1)
                linearForward(res1, ws.p(a.attn), w.pointer(l.outWeight), w.pointer(l.outBias), rows: n, inFeatures: c, outFeatures: c)
                lora(.attentionOutput, ws.p(a.attn), res1, ld: c)
                residual(res1, x, mask: a.mask1)
                normForward(ws.p(a.h1), mean: ws.p(a.mean1), rstd: ws.p(a.rstd1), res1, weight: l.norm1Weight, bias: l.norm1Bias, rows: n)
                linearForward(ws.p(a.ffnPre), ws.p(a.h1), w.pointer(l.ffnInWeight), w.pointer(l.ffnInBias), rows: n, inFeatures: c, outFeatures: f)
                lora(.intermediate, ws.p(a.h1), ws.p(a.ffnPre), ld: f)
                parallelRanges(n, threads: threads, grain: 32) { rr in
                    geluForward(ws.p(a.ffnAct) + rr.lowerBound * f, ws.p(a.ffnPre) + rr.lowerBound * f, count: rr.count * f)
                }
                let res2 = ws.p(a.res2)
                linearForward(res2, ws.p(a.ffnAct), w.pointer(l.ffnOutWeight), w.pointer(l.ffnOutBias), rows: n, inFeatures: f, outFeatures: c)
                lora(.output, ws.p(a.ffnAct), res2, ld: c)
                residual(res2, ws.p(a.h1), mask: a.mask2)
                let next = li + 1 < w.layers.count ? ws.p(ws.layers[li + 1].input) : ws.p(ws.output)
                normForward(next, mean: ws.p(a.mean2), rstd: ws.p(a.rstd2), res2, weight: l.norm2Weight, bias: l.norm2Bias, rows: n)
            }
            switch pooling {
            case .mean: meanPoolForward(ws.p(ws.pooled), ws.p(ws.output), starts: starts, sequences: b, channels: c)
            case .cls: clsPoolForward(ws.p(ws.pooled), ws.p(ws.output), starts: starts, sequences: b, channels: c)
            }
        }
        linearForward(ws.p(ws.logits), ws.p(ws.pooled), p.pointer(p.headWeight), p.pointer(p.headBias),
                      rows: b, inFeatures: c, outFeatures: classes)
        return ws.p(ws.logits)
    }

    /// Backward from dlogits [B, K] (in the workspace's dLogits block) into `grads`
    /// (accumulated: zero `grads` before the first batch of a step).
    func backward() {
        let cfg = config, w = base, p = params, g = grads.pointer
        let n = ws.tokens, b = ws.sequences, c = cfg.hiddenSize, f = cfg.intermediateSize, h = cfg.heads
        let r = p.lora.rank, s = p.lora.scaling, k = classes
        let dLogits = ws.p(ws.dLogits)
        linearBackward(dinp: nil, dweight: g + p.headWeight, dbias: g + p.headBias, dout: dLogits, inp: ws.p(ws.pooled),
                       weight: p.pointer(p.headWeight), rows: b, inFeatures: c, outFeatures: k)
        let lowest = p.slots.map(\.layer).min() ?? w.layers.count
        guard lowest < w.layers.count else { return }
        let dPooled = ws.p(ws.dPooled)
        dPooled.update(repeating: 0, count: b * c)
        gemm(dPooled, dLogits, p.pointer(p.headWeight), m: b, n: c, k: k)
        let dX = ws.p(ws.dX)
        dX.update(repeating: 0, count: n * c)
        ws.starts.withUnsafeBufferPointer { sb in
            let starts = sb.baseAddress!
            switch pooling {
            case .mean: meanPoolBackward(dhidden: dX, dout: dPooled, starts: starts, sequences: b, channels: c)
            case .cls: clsPoolBackward(dhidden: dX, dout: dPooled, starts: starts, sequences: b, channels: c)
            }
            for li in stride(from: w.layers.count - 1, through: lowest, by: -1) {
                let l = w.layers[li], a = ws.layers[li]
                let slots = Array(p.slots(layer: li))
                let needInput = li > lowest
                /// LoRA pair backward: dB += s·doutᵀ·u, du = s·dout·B, dA += duᵀ·dropout(x), dInput += mask ∘ (du·A).
                func lora(_ proj: TensorNames.Projection, dout: UnsafePointer<Float>, ld: Int, inp: UnsafePointer<Float>,
                          dInput: UnsafeMutablePointer<Float>?) {
                    guard let idx = slots.firstIndex(where: { $0.projection == proj }) else { return }
                    let slot = slots[idx], i = slot.inFeatures, o = slot.outFeatures
                    let u = ws.p(a.loraU[idx]), mask = ws.p(a.loraMask[idx])
                    let du = ws.p(ws.loraDu), scratch = ws.p(ws.loraScratch)
                    gemm(g + slot.b, dout, u, m: o, n: r, k: n, transA: true, alpha: s, beta: 1, lda: ld)
                    gemm(du, dout, p.pointer(slot.b), m: n, n: r, k: o, alpha: s, lda: ld)
                    for j in 0..<(n * i) { scratch[j] = inp[j] * mask[j] }
                    gemm(g + slot.a, du, scratch, m: r, n: i, k: n, transA: true, beta: 1)
                    if let dInput {
                        gemm(scratch, du, p.pointer(slot.a), m: n, n: i, k: r)
                        for j in 0..<(n * i) { dInput[j] += scratch[j] * mask[j] }
                    }
                }
                /// The gradient of a residual branch's pre-dropout output: dout ∘ mask, or dout itself.
                func branchGradient(_ dout: UnsafeMutablePointer<Float>, mask: Int) -> UnsafeMutablePointer<Float> {
                    guard droppedHidden else { return dout }
                    let d = ws.p(ws.dBranch)
                    multiply(d, dout, ws.p(mask), count: n * c)
                    return d
                }
                // Output layer norm: dX holds the gradient of this layer's output.
                let dRes = ws.p(ws.dRes)
                dRes.update(repeating: 0, count: n * c)
                normBackward(dinp: dRes, dout: dX, inp: ws.p(a.res2), weight: l.norm2Weight, mean: ws.p(a.mean2), rstd: ws.p(a.rstd2), rows: n)
                // res2 = ffnOut(ffnAct) + h1
                let dH1 = ws.p(ws.dH1)
                dH1.update(from: dRes, count: n * c)
                let dFfnAct = ws.p(ws.dFfnAct)
                dFfnAct.update(repeating: 0, count: n * f)
                let dFfnOut = branchGradient(dRes, mask: a.mask2)
                linearBackward(dinp: dFfnAct, dweight: nil, dbias: nil, dout: dFfnOut, inp: ws.p(a.ffnAct), weight: w.pointer(l.ffnOutWeight),
                               rows: n, inFeatures: f, outFeatures: c)
                lora(.output, dout: dFfnOut, ld: c, inp: ws.p(a.ffnAct), dInput: dFfnAct)
                let dFfnPre = ws.p(ws.dFfnPre)
                dFfnPre.update(repeating: 0, count: n * f)
                parallelRanges(n, threads: threads, grain: 32) { r in
                    let o = r.lowerBound * f
                    geluBackward(dinp: dFfnPre + o, dout: dFfnAct + o, inp: ws.p(a.ffnPre) + o, count: r.count * f)
                }
                linearBackward(dinp: dH1, dweight: nil, dbias: nil, dout: dFfnPre, inp: ws.p(a.h1), weight: w.pointer(l.ffnInWeight),
                               rows: n, inFeatures: c, outFeatures: f)
                lora(.intermediate, dout: dFfnPre, ld: f, inp: ws.p(a.h1), dInput: dH1)
                // Attention layer norm; res1 = attnOut(attn) + x
                dRes.update(repeating: 0, count: n * c)
                normBackward(dinp: dRes, dout: dH1, inp: ws.p(a.res1), weight: l.norm1Weight, mean: ws.p(a.mean1), rstd: ws.p(a.rstd1), rows: n)
                if needInput { dX.update(from: dRes, count: n * c) }
                let dAttn = ws.p(ws.dAttn)
                dAttn.update(repeating: 0, count: n * c)
                let dAttnOut = branchGradient(dRes, mask: a.mask1)
                linearBackward(dinp: dAttn, dweight: nil, dbias: nil, dout: dAttnOut, inp: ws.p(a.attn), weight: w.pointer(l.outWeight),
                               rows: n, inFeatures: c, outFeatures: c)
                lora(.attentionOutput, dout: dAttnOut, ld: c, inp: ws.p(a.attn), dInput: dAttn)
                let dQkv = ws.p(ws.dQkv)
                dQkv.update(repeating: 0, count: 3 * n * c)
                let probsStarts = ws.probsStarts, scratchStride = ws.attnScratchStride
                let probsMask: UnsafeMutablePointer<Float>? = droppedAttention ? ws.p(a.probsMask) : nil
                parallelRanges(b, threads: threads, grain: 4) { q in
                    // Workers own disjoint sequences, hence disjoint dqkv rows; each uses its first sequence's scratch row.
                    attentionBackward(dqkv: dQkv, dout: dAttn, qkv: ws.p(a.qkv), probs: ws.p(a.probs) + probsStarts[q.lowerBound],
                                      scratch: ws.p(ws.attnScratch) + q.lowerBound * scratchStride,
                                      starts: starts + q.lowerBound, sequences: q.count, heads: h, channels: c,
                                      dropMask: probsMask.map { $0 + probsStarts[q.lowerBound] })
                }
                if needInput {
                    linearBackward(dinp: dX, dweight: nil, dbias: nil, dout: dQkv, inp: ws.p(a.input), weight: w.pointer(l.qkvWeight),
                                   rows: n, inFeatures: c, outFeatures: 3 * c)
                }
                for proj in [TensorNames.Projection.query, .key, .value] {
                    lora(proj, dout: dQkv + qkvSlot(proj)! * c, ld: 3 * c, inp: ws.p(a.input), dInput: needInput ? dX : nil)
                }
            }
        }
    }
}
