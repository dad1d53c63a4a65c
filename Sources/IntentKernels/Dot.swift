/// Σ a[i]·b[i] with eight-lane SIMD accumulators (the compiler does not reassociate a scalar
/// Float reduction by itself).
@inline(__always)
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
    var acc = SIMD8<Float>.zero
    var i = 0
    while i + 8 <= n {
        let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
        let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        acc += x * y
        i += 8
    }
    var sum = acc.sum()
    while i < n {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

/// y[i] += alpha · x[i]
@inline(__always)
public func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, count n: Int) {
    for i in 0..<n { y[i] += alpha * x[i] }
}
