import Foundation

/// The outcome of McNemar's test on paired classifications.
public struct McNemarResult: Sendable, Codable, Equatable {
    /// b: pairs the candidate got right and the baseline wrong.
    public let candidateOnly: Int
    /// c: pairs the baseline got right and the candidate wrong.
    public let baselineOnly: Int
    /// Two-sided p-value for H₀: both models are equally accurate (b and c equally likely).
    public let pValue: Double
    /// Whether `pValue` is the exact binomial one (false: the normal approximation, used above
    /// `McNemar.exactLimit` discordant pairs).
    public let exact: Bool

    public init(candidateOnly: Int, baselineOnly: Int, pValue: Double, exact: Bool) {
        self.candidateOnly = candidateOnly
        self.baselineOnly = baselineOnly
        self.pValue = pValue
        self.exact = exact
    }

    /// b + c, the pairs on which the two models disagree (the only ones the test looks at).
    public var discordant: Int { candidateOnly + baselineOnly }
}

/// McNemar's test for paired proportions (McNemar 1947) and Connor's sample-size relation.
public enum McNemar {
    /// Above this many discordant pairs `test` uses the continuity-corrected normal approximation
    /// instead of the exact binomial sum. The exact sum costs O(√n) steps and stays accurate to
    /// ~1e−13 relative well beyond this; the limit only bounds the work. Just above 10⁷ pairs the
    /// approximation's relative error (against scipy's exact value) is ~4e−9 at p ≈ 0.5, ~8e−7 at
    /// p ≈ 0.002, ~1.4e−5 at p ≈ 1.5e−10, and falls as 1/n beyond.
    public static let exactLimit = 10_000_000

    /// The exact two-sided McNemar test on b = `candidateOnly` and c = `baselineOnly` discordant pairs.
    ///
    /// Under H₀ each discordant pair favours either model with probability ½, so with n = b + c and
    /// X ~ Binomial(n, ½):  p = min(1, 2·P(X ≤ min(b, c))); n = 0 gives p = 1. This equals
    /// `scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue` (the test is symmetric at ½).
    /// P(X ≤ m) is summed from Loader's saddle-point binomial probabilities (see `Binomial`), so it
    /// is exact to ~1e−13 relative for n up to `exactLimit`; p-values below ~1e−308 lose digits
    /// and then underflow to 0 (b = 0, c = 1000 gives 2⁻⁹⁹⁹ ≈ 1.9e−301 exactly; c > 1075 gives 0).
    ///
    /// Above `exactLimit` pairs it returns the continuity-corrected approximation
    /// p = erfc(z/√2), z = (|b − c| − 1)/√(b + c) (the χ²₁ test on (|b − c| − 1)²/(b + c)), with
    /// `exact == false`.
    public static func test(candidateOnly b: Int, baselineOnly c: Int) -> McNemarResult {
        precondition(b >= 0 && c >= 0, "McNemar.test: counts must be non-negative, got b = \(b), c = \(c)")
        let n = b + c
        // |b − c| ≤ 1: P(X ≤ min(b, c)) ≥ ½ (exactly ½ when n is odd), so p = 1.
        guard abs(b - c) > 1 else { return McNemarResult(candidateOnly: b, baselineOnly: c, pValue: 1, exact: true) }
        if n > exactLimit {
            let z = Double(abs(b - c) - 1) / Double(n).squareRoot()
            return McNemarResult(candidateOnly: b, baselineOnly: c, pValue: min(1, erfc(z * 0.5.squareRoot())), exact: false)
        }
        let p = min(1, 2 * Binomial.lowerTail(min(b, c), trials: n))
        return McNemarResult(candidateOnly: b, baselineOnly: c, pValue: p, exact: true)
    }

    /// McNemar's test on per-item correctness of two models on the same items
    /// (`candidate[i]`: the candidate got item i right). Counts b and c and calls
    /// `test(candidateOnly:baselineOnly:)`.
    public static func test(candidate: [Bool], baseline: [Bool]) -> McNemarResult {
        precondition(candidate.count == baseline.count,
                     "McNemar.test: \(candidate.count) candidate outcomes but \(baseline.count) baseline outcomes")
        var b = 0, c = 0
        for (x, y) in zip(candidate, baseline) where x != y {
            if x { b += 1 } else { c += 1 }
        }
        return test(candidateOnly: b, baselineOnly: c)
    }

    /// The smallest difference in accuracy δ = |p_b − p_c| that a two-sided McNemar test at level
    /// `alpha` detects with probability `power` on n = `pairs` pairs, when a fraction ψ =
    /// `discordantRate` = p_b + p_c of the pairs are discordant (p_b, p_c: the probabilities that a
    /// pair favours the candidate / the baseline).
    ///
    /// Solves Connor's (1987) sample-size formula for δ:
    ///
    ///     n = [z₁₋α/₂·√ψ + z_power·√(ψ − δ²)]² / δ²
    ///
    /// i.e. √n·δ = z₁₋α/₂·√ψ + z_power·√(ψ − δ²), by bisection on δ in (0, ψ] (the left side minus the
    /// right grows with δ when power ≥ ½, so the root is unique; the answer is accurate to a few ulps).
    ///
    /// Returns nil when no such δ exists: n = 0, ψ ≤ 0 (no discordant pairs: the test can detect
    /// nothing), or n so small that even δ = ψ (every discordant pair favouring one model) does not
    /// reach the power.
    /// - Precondition: n ≥ 0, ψ ≤ 1, 0 < alpha < 1, ½ ≤ power < 1.
    public static func minimumDetectableDifference(pairs n: Int, discordantRate psi: Double,
                                                   alpha: Double = 0.05, power: Double = 0.8) -> Double? {
        precondition(n >= 0, "minimumDetectableDifference: pairs must be non-negative, got \(n)")
        precondition(psi <= 1, "minimumDetectableDifference: discordantRate must be at most 1, got \(psi)")
        precondition(alpha > 0 && alpha < 1, "minimumDetectableDifference: alpha must be in (0, 1), got \(alpha)")
        precondition(power >= 0.5 && power < 1, "minimumDetectableDifference: power must be in [0.5, 1), got \(power)")
        guard n > 0, psi > 0 else { return nil }
        let zAlpha = Normal.quantile(1 - alpha / 2), zPower = Normal.quantile(power)
        let rootN = Double(n).squareRoot(), rootPsi = psi.squareRoot()
        // g(δ) = √n·δ − z₁₋α/₂·√ψ − z_power·√(ψ − δ²): negative at 0, increasing; its root is δ.
        func g(_ delta: Double) -> Double {
            rootN * delta - zAlpha * rootPsi - zPower * max(0, psi - delta * delta).squareRoot()
        }
        guard g(psi) >= 0 else { return nil }
        var lo = 0.0, hi = psi
        while true {
            let mid = lo + (hi - lo) / 2
            if mid <= lo || mid >= hi { break }
            if g(mid) < 0 { lo = mid } else { hi = mid }
        }
        return hi
    }
}
