import IntentKernels
import IntentModel
import Tokenization

/// Offsets of one layer's saved activations (forward) inside `TrainingWorkspace.buffer`.
struct LayerActivations {
    var input = 0, qkv = 0, attn = 0, probs = 0, res1 = 0, h1 = 0, ffnPre = 0, ffnAct = 0, res2 = 0
    var mean1 = 0, rstd1 = 0, mean2 = 0, rstd2 = 0
    /// Encoder dropout masks (training only): attention probabilities (layout of probs), and the
    /// attention-output and FFN-output residual branches [N, C].
    var probsMask = 0, mask1 = 0, mask2 = 0
    /// Per LoRA slot of the layer: dropout mask [N, in] and u = dropout(x)·Aᵀ [N, r].
    var loraMask: [Int] = [], loraU: [Int] = []
}

/// Everything a training step keeps between its forward and backward pass, sized for the largest
/// batch seen (one allocation, regrown only when a bigger batch arrives). One owner thread.
final class TrainingWorkspace {
    let buffer = FloatBuffer(count: 0)
    var starts: [Int] = []
    var probsStarts: [Int] = []
    var layers: [LayerActivations] = []
    var output = 0, pooled = 0, logits = 0, probs = 0, embeddingMask = 0
    // Gradient scratch.
    var dX = 0, dRes = 0, dH1 = 0, dFfnAct = 0, dFfnPre = 0, dAttn = 0, dQkv = 0
    var loraScratch = 0, loraDu = 0, attnScratch = 0, dPooled = 0, dLogits = 0, dBranch = 0
    var tokens = 0, sequences = 0
    /// Floats of attention scratch per sequence.
    var attnScratchStride = 0

    func prepare(config: EncoderConfig, lora: LoRAConfig, classes k: Int, batch: TokenBatch) {
        let n = batch.tokenCount, b = batch.count, c = config.hiddenSize, f = config.intermediateSize
        let r = lora.rank
        tokens = n
        sequences = b
        starts = batch.starts
        probsStarts = [0]
        for s in 0..<b { probsStarts.append(probsStarts[s] + config.heads * batch.length(s) * batch.length(s)) }
        var next = 0
        func take(_ count: Int) -> Int {
            defer { next += count }
            return next
        }
        layers = (0..<config.layers).map { _ in
            var a = LayerActivations()
            a.input = take(n * c); a.qkv = take(3 * n * c); a.attn = take(n * c); a.probs = take(probsStarts[b])
            a.res1 = take(n * c); a.h1 = take(n * c); a.ffnPre = take(n * f); a.ffnAct = take(n * f); a.res2 = take(n * c)
            a.mean1 = take(n); a.rstd1 = take(n); a.mean2 = take(n); a.rstd2 = take(n)
            a.probsMask = take(probsStarts[b]); a.mask1 = take(n * c); a.mask2 = take(n * c)
            for t in lora.targets {
                let (i, _) = t.shape(config)
                a.loraMask.append(take(n * i))
                a.loraU.append(take(n * r))
            }
            return a
        }
        output = take(n * c); pooled = take(b * c); logits = take(b * k); probs = take(b * k); embeddingMask = take(n * c)
        dX = take(n * c); dRes = take(n * c); dH1 = take(n * c); dFfnAct = take(n * f); dFfnPre = take(n * f)
        dAttn = take(n * c); dQkv = take(3 * n * c); loraScratch = take(n * max(c, f)); loraDu = take(n * r)
        attnScratchStride = batch.longest + 1
        attnScratch = take(attnScratchStride * max(b, 1)); dPooled = take(b * c); dLogits = take(b * k)
        dBranch = take(n * c)
        buffer.reserve(next)
    }

    @inline(__always) func p(_ offset: Int) -> UnsafeMutablePointer<Float> { buffer.pointer + offset }
}
