/// Fully connected layer in PyTorch's weight layout.
/// out[N, O] = inp[N, I] · weight[O, I]ᵀ + bias[O]   (one sgemm over the whole block)
public func linearForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    rows n: Int, inFeatures i: Int, outFeatures o: Int
) {
    precondition(n >= 0 && i > 0 && o > 0, "linearForward: bad shape [\(n), \(i)] -> \(o)")
    guard n > 0 else { return }
    if let bias {
        for r in 0..<n { (out + r * o).update(from: bias, count: o) }
        gemm(out, inp, weight, m: n, n: o, k: i, transB: true, beta: 1)
    } else {
        gemm(out, inp, weight, m: n, n: o, k: i, transB: true, beta: 0)
    }
}

/// Backward of `linearForward`; every gradient is optional and accumulated.
/// dinp[N, I] += dout[N, O] · weight[O, I];  dweight[O, I] += dout[N, O]ᵀ · inp[N, I];
/// dbias[O] += Σ_rows dout.
public func linearBackward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
    dbias: UnsafeMutablePointer<Float>?,
    dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    rows n: Int, inFeatures i: Int, outFeatures o: Int
) {
    precondition(n >= 0 && i > 0 && o > 0, "linearBackward: bad shape [\(n), \(i)] -> \(o)")
    guard n > 0 else { return }
    if let dinp { gemm(dinp, dout, weight, m: n, n: i, k: o, beta: 1) }
    if let dweight { gemm(dweight, dout, inp, m: o, n: i, k: n, transA: true, beta: 1) }
    if let dbias {
        for r in 0..<n {
            let row = dout + r * o
            for c in 0..<o { dbias[c] += row[c] }
        }
    }
}
