import Foundation

/// Binomial(n, ½) probabilities, accurate to a few ulps for any n (used by the exact McNemar test).
///
/// P(X = k) by Loader's saddle-point form (C. Loader, "Fast and accurate computation of binomial
/// probabilities", 2000; R's `dbinom`), which works in log space without the cancellation of
/// lgamma(n+1) − lgamma(k+1) − lgamma(n−k+1) (each ~n·ln n, so that form loses ~log10(n ln n) digits).
public enum Binomial {
    /// P(X = k) for X ~ Binomial(n, ½). Underflows to 0 below ~4.9e−324.
    static func probability(_ k: Int, trials n: Int) -> Double {
        precondition(n >= 0 && k >= 0 && k <= n)
        if k == 0 || k == n { return Double(sign: .plus, exponent: -n, significand: 1) }  // 2⁻ⁿ, exact
        let x = Double(k), nn = Double(n), half = nn / 2
        let lc = stirlingError(n) - stirlingError(k) - stirlingError(n - k)
            - deviance(x, half) - deviance(nn - x, half)
        let lf = log(2 * Double.pi) + log(x) + log1p(-x / nn)
        return exp(lc - 0.5 * lf)
    }

    /// P(X ≤ m) for X ~ Binomial(n, ½), m ≤ n/2.
    ///
    /// For n ≤ 62, Σ C(n, j) over j ≤ m in integers (it is below 2⁶²) scaled by 2⁻ⁿ: correctly rounded.
    /// Otherwise P(X = m) summed downwards with P(X = j − 1) = P(X = j) · j / (n − j + 1) until the
    /// terms no longer change the sum. The terms fall at least geometrically once below the mode, so
    /// this takes O(√n) steps at worst.
    public static func lowerTail(_ m: Int, trials n: Int) -> Double {
        precondition(m >= 0 && 2 * m <= n)
        if n <= 62 {
            var coefficient: UInt64 = 1, sum: UInt64 = 1  // C(n, 0)
            for j in stride(from: 1, through: m, by: 1) {
                coefficient = coefficient * UInt64(n - j + 1) / UInt64(j)  // C(n, j)·j < 2⁶⁴ for n ≤ 62: exact
                sum += coefficient
            }
            return Double(sum) * Double(sign: .plus, exponent: -n, significand: 1)
        }
        var term = probability(m, trials: n)
        var sum = term
        var j = m
        while j > 0 && term > sum * 0x1p-60 {
            term *= Double(j) / Double(n - j + 1)
            sum += term
            j -= 1
        }
        return sum
    }

    /// Stirling's error δ(n) = ln n! − [½ ln(2π) + (n + ½) ln n − n], for integer n ≥ 0 (δ(0) := 0).
    static func stirlingError(_ n: Int) -> Double {
        if n <= 15 { return stirlingErrorTable[n] }
        let x = Double(n), xx = x * x
        let s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260, s3 = 1.0 / 1680, s4 = 1.0 / 1188
        if n > 500 { return (s0 - s1 / xx) / x }
        if n > 80 { return (s0 - (s1 - s2 / xx) / xx) / x }
        if n > 35 { return (s0 - (s1 - (s2 - s3 / xx) / xx) / xx) / x }
        return (s0 - (s1 - (s2 - (s3 - s4 / xx) / xx) / xx) / xx) / x
    }

    /// Loader's deviance term bd0(x, μ) = x ln(x/μ) + μ − x, by its series when x is near μ (where the
    /// direct form cancels).
    static func deviance(_ x: Double, _ mu: Double) -> Double {
        if abs(x - mu) < 0.1 * (x + mu) {
            var v = (x - mu) / (x + mu)
            var s = (x - mu) * v
            var ej = 2 * x * v
            v *= v
            for j in 1..<1000 {
                ej *= v
                let next = s + ej / Double(2 * j + 1)
                if next == s { return next }
                s = next
            }
            return s
        }
        return x * log(x / mu) + mu - x
    }

    /// δ(0…15), from ln Γ(n + 1) at 40 digits (mpmath); the asymptotic series is used above 15.
    private static let stirlingErrorTable: [Double] = [
        0.0, 0.08106146679532726, 0.0413406959554093, 0.02767792568499834, 0.020790672103765093,
        0.016644691189821193, 0.013876128823070748, 0.01189670994589177, 0.010411265261972096,
        0.009255462182712733, 0.00833056343336287, 0.007573675487951841, 0.00694284010720953,
        0.006408994188004207, 0.0059513701127588475, 0.005554733551962801,
    ]
}
