import Foundation

/// The standard normal distribution N(0, 1).
public enum Normal {
    /// Φ(x) = P(Z ≤ x) = ½·erfc(−x/√2).
    ///
    /// Written with `erfc` rather than `1 + erf` so that the lower tail keeps full relative precision
    /// (Φ(−37) ≈ 5.7e−300 is correct to the last digits, where `1 + erf` would give 0); the upper tail
    /// rounds to 1 beyond x ≈ 8.3, as any `Double` must.
    public static func cdf(_ x: Double) -> Double {
        0.5 * erfc(-x * 0.5.squareRoot())
    }

    /// Φ⁻¹(p): the z with Φ(z) = p, for p in [0, 1] (−∞ at 0, +∞ at 1).
    ///
    /// P. J. Acklam's rational approximation (relative error below 1.15e−9), followed by one Halley
    /// step on Φ(z) − p, which brings it to a few ulps (~1e−15 relative; the tests hold it to
    /// scipy.special.ndtri). Computed on the lower half only, Φ⁻¹(p) = −Φ⁻¹(1 − p) for p > ½
    /// (1 − p is exact there), so the upper tail is as accurate as the lower one.
    /// - Precondition: 0 ≤ p ≤ 1 (NaN traps).
    public static func quantile(_ p: Double) -> Double {
        precondition(p >= 0 && p <= 1, "Normal.quantile: p must be in [0, 1], got \(p)")
        return p > 0.5 ? -lowerQuantile(1 - p) : lowerQuantile(p)
    }

    /// Φ⁻¹(p) for p in [0, ½].
    private static func lowerQuantile(_ p: Double) -> Double {
        if p == 0 { return -.infinity }
        var x: Double
        if p < 0.02425 {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        }
        // Halley's step: e = Φ(x) − p, u = e / φ(x), x ← x − u / (1 + x·u/2).
        let e = cdf(x) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        if u.isFinite { x -= u / (1 + x * u / 2) }  // exp overflows only for p below ~1e−308
        return x
    }

    // Acklam's coefficients: central region (a, b), tails (c, d).
    private static let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    private static let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                            6.680131188771972e+01, -1.328068155288572e+01]
    private static let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    private static let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                            3.754408661907416e+00]
}
