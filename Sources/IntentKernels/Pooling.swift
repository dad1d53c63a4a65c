/// Mean of each sequence's rows: out[b] = (1/L_b) Σ_{t} hidden[starts[b] + t].
/// hidden [N, C] packed; out [B, C]. An empty sequence pools to zeros.
public func meanPoolForward(
    _ out: UnsafeMutablePointer<Float>, _ hidden: UnsafePointer<Float>,
    starts: UnsafePointer<Int>, sequences b: Int, channels c: Int
) {
    for s in 0..<b {
        let y = out + s * c
        y.update(repeating: 0, count: c)
        let l = starts[s + 1] - starts[s]
        guard l > 0 else { continue }
        for r in starts[s]..<starts[s + 1] { axpy(y, 1, hidden + r * c, count: c) }
        let inv = 1 / Float(l)
        for j in 0..<c { y[j] *= inv }
    }
}

/// Backward of `meanPoolForward`: dhidden[row] += dout[b] / L_b.
public func meanPoolBackward(
    dhidden: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    starts: UnsafePointer<Int>, sequences b: Int, channels c: Int
) {
    for s in 0..<b {
        let l = starts[s + 1] - starts[s]
        guard l > 0 else { continue }
        let scale = 1 / Float(l)
        for r in starts[s]..<starts[s + 1] { axpy(dhidden + r * c, scale, dout + s * c, count: c) }
    }
}

/// First row of each sequence ([CLS]): out[b] = hidden[starts[b]].
public func clsPoolForward(
    _ out: UnsafeMutablePointer<Float>, _ hidden: UnsafePointer<Float>,
    starts: UnsafePointer<Int>, sequences b: Int, channels c: Int
) {
    for s in 0..<b {
        precondition(starts[s + 1] > starts[s], "clsPoolForward: sequence \(s) is empty")
        (out + s * c).update(from: hidden + starts[s] * c, count: c)
    }
}

/// Backward of `clsPoolForward`: dhidden[starts[b]] += dout[b].
public func clsPoolBackward(
    dhidden: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    starts: UnsafePointer<Int>, sequences b: Int, channels c: Int
) {
    for s in 0..<b { axpy(dhidden + starts[s] * c, 1, dout + s * c, count: c) }
}

/// Scales every row of x [B, C] to unit L2 norm (rows of zeros stay zeros), like
/// `torch.nn.functional.normalize(x, p=2, dim=1)` with eps 1e-12.
public func l2NormalizeRows(_ x: UnsafeMutablePointer<Float>, rows b: Int, channels c: Int) {
    for s in 0..<b {
        let y = x + s * c
        let norm = dot(y, y, count: c).squareRoot()
        let inv = 1 / max(norm, 1e-12)
        for j in 0..<c { y[j] *= inv }
    }
}
