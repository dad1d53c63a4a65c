import Foundation

/// Deterministic pseudo-random Floats for kernel tests (SplitMix64).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-scale, scale).
    mutating func float(_ scale: Float = 1) -> Float { (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in float(scale) } }
}

/// Central finite difference of the scalar loss Σ out·probe with respect to every entry of
/// `parameter`, for comparison with an analytic gradient. Double accumulation keeps the
/// estimate's error near (eps² · f''') + (float rounding / eps).
func numericGradient(
    of parameter: inout [Float], probe: [Float], eps: Float = 1e-2, forward: ([Float]) -> [Float]
) -> [Float] {
    func loss(_ p: [Float]) -> Double {
        zip(forward(p), probe).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
    var grad = [Float](repeating: 0, count: parameter.count)
    for i in parameter.indices {
        let saved = parameter[i]
        parameter[i] = saved + eps
        let up = loss(parameter)
        parameter[i] = saved - eps
        let down = loss(parameter)
        parameter[i] = saved
        grad[i] = Float((up - down) / Double(2 * eps))
    }
    return grad
}

/// max |a − b| / max(1, max |b|): relative to the gradient's scale.
func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    let scale = max(1, b.map(abs).max() ?? 0)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}
