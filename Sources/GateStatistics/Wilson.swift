import Foundation

/// The Wilson score interval for a binomial proportion.
public enum Wilson {
    /// The two-sided Wilson score interval (no continuity correction) for `successes` out of `trials`
    /// at `confidence`, the estimate being successes / trials.
    ///
    /// With p̂ = k/n and z = Φ⁻¹(½ + ½·confidence) (Wilson 1927; Newcombe 1998, method 3):
    ///
    ///     centre = (2n·p̂ + z²) / (2(n + z²)),   half-width = z / (2(n + z²)) · √(4n·p̂(1 − p̂) + z²)
    ///
    /// with the lower end exactly 0 when k = 0 and the upper exactly 1 when k = n. Computed in the
    /// same order as `scipy.stats.binomtest(k, n).proportion_ci(confidence, method="wilson")`.
    /// `trials == 0` (no evidence) gives estimate 0 and the whole of [0, 1].
    public static func interval(successes k: Int, trials n: Int, confidence: Double = 0.95) -> Interval {
        precondition(n >= 0 && k >= 0 && k <= n, "Wilson.interval: need 0 ≤ successes ≤ trials, got \(k) of \(n)")
        precondition(confidence > 0 && confidence < 1, "Wilson.interval: confidence must be in (0, 1), got \(confidence)")
        guard n > 0 else { return Interval(estimate: 0, lower: 0, upper: 1) }
        let nn = Double(n), p = Double(k) / nn, q = 1 - p
        let z = Normal.quantile(0.5 + 0.5 * confidence)
        let denominator = 2 * (nn + z * z)
        let centre = (2 * nn * p + z * z) / denominator
        let delta = z / denominator * (4 * nn * p * q + z * z).squareRoot()
        let lower = k == 0 ? 0 : max(0, centre - delta)
        let upper = k == n ? 1 : min(1, centre + delta)
        return Interval(estimate: p, lower: lower, upper: upper)
    }
}
