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
        let y = out + r * c
        var sum: Float = 0
        for j in 0..<c { sum += x[j] }
        let m = sum / Float(c)
        var varSum: Float = 0
        for j in 0..<c {
            let d = x[j] - m
            varSum += d * d
        }
        let s = 1 / (varSum / Float(c) + eps).squareRoot()
        for j in 0..<c { y[j] = (x[j] - m) * s * weight[j] + bias[j] }
        mean?[r] = m
        rstd?[r] = s
    }
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
