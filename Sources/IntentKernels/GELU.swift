import Foundation

/// erf(x) for eight lanes at once: a rational approximation on [−4, 4] (outside it erf is ±1 in
/// single precision), the one Eigen and XLA use; max abs error ≈ 1e-7 against libm `erf`.
@inline(__always)
func erf8(_ a: SIMD8<Float>) -> SIMD8<Float> {
    var x = a
    x.replace(with: 4, where: x .> 4)
    x.replace(with: -4, where: x .< -4)
    let x2 = x * x
    var p = SIMD8<Float>(repeating: -2.72614225801306e-10)
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    p = p * x
    var q = SIMD8<Float>(repeating: -1.45660718464996e-05)
    q = q * x2 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return p / q
}

/// Scalar erf through the same approximation, so every lane of a block agrees with its tail.
@inline(__always)
func erf1(_ x: Float) -> Float { erf8(SIMD8(repeating: x))[0] }

/// Exact (erf) GELU, as BERT's "gelu": out[i] = 0.5 · x · (1 + erf(x / √2)). In place is allowed.
public func geluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count n: Int) {
    precondition(n >= 0, "geluForward: negative count")
    let invSqrt2: Float = 0.70710678118654752
    var i = 0
    while i + 8 <= n {
        let x = UnsafeRawPointer(inp + i).loadUnaligned(as: SIMD8<Float>.self)
        let y = 0.5 * x * (1 + erf8(x * invSqrt2))
        UnsafeMutableRawPointer(out + i).storeBytes(of: y, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        let x = inp[i]
        out[i] = 0.5 * x * (1 + erf1(x * invSqrt2))
        i += 1
    }
}

/// Backward of `geluForward`: dinp[i] += dout[i] · (Φ(x) + x · φ(x)). `dinp` may alias `dout`
/// only if the caller zeroed nothing it still needs; accumulation reads dinp before writing.
public func geluBackward(
    dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, count n: Int
) {
    precondition(n >= 0, "geluBackward: negative count")
    let invSqrt2: Float = 0.70710678118654752
    let invSqrt2Pi: Float = 0.39894228040143268
    var i = 0
    while i + 8 <= n {
        let x = UnsafeRawPointer(inp + i).loadUnaligned(as: SIMD8<Float>.self)
        let cdf = 0.5 * (1 + erf8(x * invSqrt2))
        var pdf = SIMD8<Float>()
        for j in 0..<8 { pdf[j] = invSqrt2Pi * Foundation.exp(-0.5 * x[j] * x[j]) }
        let g = UnsafeRawPointer(dout + i).loadUnaligned(as: SIMD8<Float>.self) * (cdf + x * pdf)
        let d = UnsafeRawPointer(dinp + i).loadUnaligned(as: SIMD8<Float>.self) + g
        UnsafeMutableRawPointer(dinp + i).storeBytes(of: d, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        let x = inp[i]
        let cdf = 0.5 * (1 + erf1(x * invSqrt2))
        let pdf = invSqrt2Pi * Foundation.exp(-0.5 * x * x)
        dinp[i] += dout[i] * (cdf + x * pdf)
        i += 1
    }
}
