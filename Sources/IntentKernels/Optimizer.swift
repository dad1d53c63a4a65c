import Foundation

/// Σ g² over a block (for clipping by global norm), accumulated in Double.
public func sumOfSquares(_ g: UnsafePointer<Float>, count n: Int) -> Double {
    var s: Double = 0
    for i in 0..<n { s += Double(g[i]) * Double(g[i]) }
    return s
}

/// True when every value is finite.
public func allFinite(_ x: UnsafePointer<Float>, count n: Int) -> Bool {
    for i in 0..<n where !x[i].isFinite { return false }
    return true
}

/// One AdamW step (Loshchilov & Hutter: decoupled weight decay) over a flat parameter block.
/// `step` counts from 1. `decay` [n] is an optional 0/1 mask of which entries take weight decay
/// (biases and layer norms usually do not); nil decays everything.
public func adamWUpdate(
    params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
    v: UnsafeMutablePointer<Float>, decay: UnsafePointer<Float>?, count n: Int, learningRate lr: Float,
    beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float, step: Int
) {
    precondition(step >= 1, "AdamW steps count from 1")
    let c1 = 1 - Foundation.pow(beta1, Float(step)), c2 = 1 - Foundation.pow(beta2, Float(step))
    for i in 0..<n {
        let g = grads[i]
        m[i] = beta1 * m[i] + (1 - beta1) * g
        v[i] = beta2 * v[i] + (1 - beta2) * g * g
        let mHat = m[i] / c1, vHat = v[i] / c2
        let wd = weightDecay * (decay?[i] ?? 1)
        params[i] -= lr * (mHat / (vHat.squareRoot() + eps) + wd * params[i])
    }
}

/// A small, fast, seedable generator (SplitMix64) for dropout, shuffling and initialisation.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
