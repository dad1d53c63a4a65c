import Foundation

/// Softmax of each row of logits [B, K] into probs [B, K] (max-subtracted, so large logits are safe).
/// In place (probs == logits) is allowed.
public func softmaxForward(_ probs: UnsafeMutablePointer<Float>, _ logits: UnsafePointer<Float>, rows b: Int, classes k: Int) {
    for r in 0..<b {
        let z = logits + r * k, p = probs + r * k
        var m = -Float.infinity
        for j in 0..<k { m = max(m, z[j]) }
        var sum: Float = 0
        for j in 0..<k {
            let e = Foundation.exp(z[j] - m)
            p[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<k { p[j] *= inv }
    }
}

/// Cross-entropy with optional label smoothing ε and per-class weights w:
///   target t = (1 − ε)·onehot(y) + ε/K,  loss_r = −w_y Σ_j t_j log p_j,
/// averaged over the batch as Σ_r loss_r / Σ_r w_{y_r} (PyTorch's weighted mean).
/// `probs` [B, K] are the softmax of the logits. Returns the mean loss; writes
/// dlogits [B, K] = w_y (p − t) / Σ_r w_{y_r} scaled by `scale` (accumulated).
@discardableResult
public func crossEntropyForwardBackward(
    dlogits: UnsafeMutablePointer<Float>?, probs: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
    rows b: Int, classes k: Int, labelSmoothing eps: Float = 0, classWeights: UnsafePointer<Float>? = nil,
    scale: Float = 1
) -> Float {
    precondition(eps >= 0 && eps < 1, "label smoothing must be in [0, 1)")
    var totalWeight: Float = 0
    for r in 0..<b { totalWeight += classWeights?[Int(labels[r])] ?? 1 }
    guard totalWeight > 0 else { return 0 }
    var loss: Double = 0
    let offTarget = eps / Float(k)
    for r in 0..<b {
        let y = Int(labels[r])
        precondition(y >= 0 && y < k, "label \(y) outside \(k) classes")
        let w = classWeights?[y] ?? 1
        let p = probs + r * k
        var rowLoss: Double = 0
        for j in 0..<k {
            let t = (j == y ? 1 - eps : 0) + offTarget
            if t > 0 { rowLoss -= Double(t) * Double(Foundation.log(max(p[j], 1e-30))) }
            dlogits?[r * k + j] += scale * w * (p[j] - t) / totalWeight
        }
        loss += Double(w) * rowLoss
    }
    return Float(loss / Double(totalWeight))
}

/// DPO loss for a softmax classifier (DESIGN.md §2). For pair r with chosen class w and
/// rejected class l, log π(w|x) − log π(l|x) = z_w − z_l, so
///   margin_r = (z_w − z_l) − (ref_w − ref_l),  loss_r = −log σ(β · margin_r),
/// with `refMargins[r]` = ref_w − ref_l from the frozen reference model. Returns the mean loss;
/// accumulates dlogits (scaled by `scale`) and writes the accuracy of the implicit reward
/// (margin > 0) into `rewardAccuracy` when given.
@discardableResult
public func dpoForwardBackward(
    dlogits: UnsafeMutablePointer<Float>?, logits: UnsafePointer<Float>, chosen: UnsafePointer<Int32>,
    rejected: UnsafePointer<Int32>, refMargins: UnsafePointer<Float>, rows b: Int, classes k: Int,
    beta: Float, scale: Float = 1
) -> Float {
    guard b > 0 else { return 0 }
    var loss: Double = 0
    for r in 0..<b {
        let w = Int(chosen[r]), l = Int(rejected[r])
        precondition(w >= 0 && w < k && l >= 0 && l < k && w != l, "bad preference pair (\(w), \(l))")
        let z = logits + r * k
        let margin = (z[w] - z[l]) - refMargins[r]
        let x = beta * margin
        // −log σ(x) = softplus(−x), computed stably.
        loss += Double(x > 0 ? Foundation.log1p(Foundation.exp(-x)) : -x + Foundation.log1p(Foundation.exp(x)))
        if let dlogits {
            let sigmoidNeg = 1 / (1 + Foundation.exp(x))  // σ(−x)
            let g = -beta * sigmoidNeg * scale / Float(b)
            dlogits[r * k + w] += g
            dlogits[r * k + l] -= g
        }
    }
    return Float(loss / Double(b))
}
