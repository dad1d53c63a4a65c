/// Layer normalisation over the last axis of inp[N, C].
/// out = (x − mean) · rstd · weight + bias. `mean`/`rstd` [N] are saved for the backward pass
/// when given (training), skipped when nil (inference).
public func layerNormForward(
    _ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?,
    rstd: UnsafeMutablePointer<Float>?,
    _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    rows n: Int, channels c: Int, eps: Float
) {
    precondition(n >= 0 && c > 0, "layerNormForward: bad shape [\(n), \(c)]")
    for r in 0..<n {
        let x = inp + r * c
        let m = rowSum(x, count: c, minus: 0) / Float(c)
        let s = 1 / (rowSum(x, count: c, minus: m, squared: true) / Float(c) + eps).squareRoot()
        normalizeRow(out + r * c, x, count: c, mean: m, rstd: s, weight: weight, bias: bias)
        mean?[r] = m
        rstd?[r] = s
    }
}

/// Σ (x − minus) or Σ (x − minus)² over a row, in eight interleaved partial sums (a single running
/// sum is one dependent add per element: the compiler may not reorder float additions).
@inline(never)
func rowSum(_ x: UnsafePointer<Float>, count c: Int, minus m: Float, squared: Bool = false) -> Float {
    var acc = SIMD8<Float>.zero
    let mv = SIMD8<Float>(repeating: m)
    var j = 0
    while j + 8 <= c {
        let d = load8(x + j) - mv
        acc += squared ? d * d : d
        j += 8
    }
    var total = acc.sum()
    while j < c {
        let d = x[j] - m
        total += squared ? d * d : d
        j += 1
    }
    return total
}

/// y = (x − mean) · rstd · weight + bias over one row.
@inline(never)
func normalizeRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count c: Int, mean m: Float, rstd s: Float,
                  weight: UnsafePointer<Float>, bias: UnsafePointer<Float>) {
    for j in 0..<c { y[j] = (x[j] - m) * s * weight[j] + bias[j] }
}

/// Backward of `layerNormForward`, accumulating into dinp, dweight and dbias (each optional).
public func layerNormBackward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
    dbias: UnsafeMutablePointer<Float>?,
    dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows n: Int, channels c: Int
) {
    precondition(n >= 0 && c > 0, "layerNormBackward: bad shape [\(n), \(c)]")
    for r in 0..<n {
        let x = inp + r * c
        let dy = dout + r * c
        let m = mean[r]
        let s = rstd[r]
        var dnormMean: Float = 0
        var dnormNormMean: Float = 0
        for j in 0..<c {
            let norm = (x[j] - m) * s
            let dnorm = dy[j] * weight[j]
            dnormMean += dnorm
            dnormNormMean += dnorm * norm
        }
        dnormMean /= Float(c)
        dnormNormMean /= Float(c)
        for j in 0..<c {
            let norm = (x[j] - m) * s
            dbias?[j] += dy[j]
            dweight?[j] += norm * dy[j]
            if let dinp {
                let dnorm = dy[j] * weight[j]
                dinp[r * c + j] += s * (dnorm - dnormMean - norm * dnormNormMean)
            }
        }
    }
}
