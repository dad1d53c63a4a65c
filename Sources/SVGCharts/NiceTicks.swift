// "Nice" axis ticks: multiples of 1, 2 or 5 × 10^k.

import Foundation

public struct NiceTicks: Sendable, Equatable {
    /// The axis domain: for `covering`, extended outward to tick multiples; for `within`,
    /// the range asked for.
    public let lower: Double
    public let upper: Double
    /// The distance between ticks, 1, 2 or 5 × 10^k.
    public let step: Double
    /// Tick values in increasing order.
    public let values: [Double]
    /// Decimals that print every tick exactly (0 for steps of 1 and more).
    public let decimals: Int

    /// Ticks whose domain is extended outward to the nearest tick multiples around
    /// `lower…upper` (for an automatic axis). Aims for 5 ticks, accepts 4–6, and falls back to
    /// the count nearest 5 (7 rather than 3) when no 1/2/5 step gives 4–6 — which happens for
    /// a few spans, mostly with `within`, whose domain cannot move. `minimumStep` (e.g. 1 for integer
    /// axes) excludes finer steps. A degenerate or non-finite range is widened first.
    public static func covering(_ lower: Double, _ upper: Double, minimumStep: Double? = nil) -> NiceTicks {
        make(lower, upper, extend: true, minimumStep: minimumStep)
    }

    /// Ticks inside the fixed domain `lower…upper` (which is kept as is), chosen as for
    /// `covering`.
    public static func within(_ lower: Double, _ upper: Double, minimumStep: Double? = nil) -> NiceTicks {
        make(lower, upper, extend: false, minimumStep: minimumStep)
    }

    /// Widens an empty, reversed or non-finite range into a usable one.
    static func usableRange(_ lower: Double, _ upper: Double) -> (Double, Double) {
        var lo = lower.isFinite ? lower : 0
        var hi = upper.isFinite ? upper : 0
        if lo > hi { swap(&lo, &hi) }
        let magnitude = max(abs(lo), abs(hi))
        let minimumSpan = max(magnitude * 1e-9, 1e-12)
        if hi - lo < minimumSpan {
            let pad = lo == hi ? (magnitude > 0 ? magnitude * 0.1 : 1) : minimumSpan
            let centre = (lo + hi) / 2
            lo = centre - pad
            hi = centre + pad
        }
        return (lo, hi)
    }

    private struct Candidate {
        var mantissa: Int
        var exponent: Int
        var step: Double { Double(mantissa) * SVGText.power10(exponent) }
    }

    private static func value(_ k: Int64, _ c: Candidate) -> Double {
        // k·m / 10^-e rather than k·(m·10^e): the double nearest the decimal tick value.
        let units = Double(k * Int64(c.mantissa))
        return c.exponent >= 0 ? units * SVGText.power10(c.exponent) : units / SVGText.power10(-c.exponent)
    }

    private static func make(_ lower: Double, _ upper: Double, extend: Bool, minimumStep: Double?) -> NiceTicks {
        let (lo, hi) = usableRange(lower, upper)
        let span = hi - lo
        let base = Int(log10(span).rounded(.down))
        var candidates: [Candidate] = []
        for exponent in (base - 2)...(base + 1) {
            for mantissa in [1, 2, 5] { candidates.append(Candidate(mantissa: mantissa, exponent: exponent)) }
        }
        if let minimumStep, minimumStep.isFinite, minimumStep > 0 {
            candidates = candidates.filter { $0.step >= minimumStep * (1 - 1e-12) }
            if candidates.isEmpty {
                // The minimum step exceeds the whole span: one 1/2/5 step at least that large.
                let e = Int(log10(minimumStep).rounded(.down))
                let m = [1, 2, 5, 10].first { Double($0) * SVGText.power10(e) >= minimumStep * (1 - 1e-12) } ?? 10
                candidates = [m == 10 ? Candidate(mantissa: 1, exponent: e + 1) : Candidate(mantissa: m, exponent: e)]
            }
        }

        var best: (score: (Int, Double), candidate: Candidate, kLow: Int64, kHigh: Int64)?
        for candidate in candidates {
            let step = candidate.step
            let eps = 1e-9
            let kLow: Int64
            let kHigh: Int64
            if extend {
                kLow = Int64((lo / step + eps).rounded(.down))
                kHigh = Int64((hi / step - eps).rounded(.up))
            } else {
                kLow = Int64((lo / step - eps).rounded(.up))
                kHigh = Int64((hi / step + eps).rounded(.down))
            }
            let count = Int(kHigh - kLow + 1)
            guard count >= 2 || (!extend && count >= 1) else { continue }
            // Prefer 4…6 ticks, then the count nearest 5 (7 before 3), then the least wasted
            // span, then the coarser step.
            let outside = (4...6).contains(count) ? 0 : 1
            let distance = count < 4 ? 2 * (5 - count) + 1 : abs(count - 5) * 2
            let waste = extend ? (Double(kHigh - kLow) * step - span) / span : 0
            let score = (outside * 100 + distance, waste)
            if let current = best {
                if score.0 < current.score.0 || (score.0 == current.score.0 && score.1 < current.score.1 - 1e-9) {
                    best = (score, candidate, kLow, kHigh)
                } else if score.0 == current.score.0 && abs(score.1 - current.score.1) <= 1e-9 && step > current.candidate.step {
                    best = (score, candidate, kLow, kHigh)
                }
            } else {
                best = (score, candidate, kLow, kHigh)
            }
        }
        guard let best else {
            return NiceTicks(lower: lo, upper: hi, step: span, values: [lo, hi], decimals: 2)
        }
        let values = (best.kLow...best.kHigh).map { value($0, best.candidate) }
        let decimals = max(0, -best.candidate.exponent)
        if extend {
            return NiceTicks(lower: values.first ?? lo, upper: values.last ?? hi, step: best.candidate.step, values: values, decimals: decimals)
        }
        return NiceTicks(lower: lo, upper: hi, step: best.candidate.step, values: values, decimals: decimals)
    }

    init(lower: Double, upper: Double, step: Double, values: [Double], decimals: Int) {
        self.lower = lower
        self.upper = upper
        self.step = step
        self.values = values
        self.decimals = decimals
    }
}
