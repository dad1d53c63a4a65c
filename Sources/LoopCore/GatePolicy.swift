/// The rules the promotion gate applies (stored in PostgreSQL, edited on the admin models page).
/// Fractions are of accuracy or recall (0.01 = one point). DESIGN.md §2 steps 3–6 explain why:
/// promotion needs paired evidence on the same utterances, and a week's feedback is small, so
/// every report states the minimum detectable difference at its sample size.
public struct GatePolicy: Sendable, Codable, Equatable {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Promote only on a significant gain (exact McNemar p < α and gain ≥ minimum gain).
        case superiority
        /// Promote a candidate that learned from more feedback when the paired bootstrap's lower
        /// bound of its accuracy change is above −margin (so a young deployment keeps learning).
        case nonInferiority = "non_inferiority"
    }

    public var mode = Mode.superiority
    /// Paired items (evaluation pool + agent-labelled shadow traffic) needed before promoting.
    public var minimumPairedSamples = 30
    /// α of the two-sided exact McNemar test and of the (1 − α) bootstrap interval.
    public var significanceLevel = 0.05
    /// Superiority: the accuracy gain the candidate must show on the paired items.
    public var minimumGain = 0.0
    /// Non-inferiority: how far below zero the interval's lower bound may reach.
    public var nonInferiorityMargin = 0.01
    /// Largest fall of golden-set accuracy accepted.
    public var maximumGoldenRegression = 0.01
    /// Largest fall of any one intent's recall accepted (on the golden set, and on the evaluation pool),
    /// when the one-sided exact McNemar test on that intent's items also says the fall is real at
    /// `significanceLevel` …
    public var maximumRecallDrop = 0.25
    /// … among intents with at least this many items there.
    public var minimumIntentSupport = 5
    /// Share of live predictions the shadow adapter also classifies (0 … 1).
    public var shadowSampleRate = 0.25
    /// The shadow phase ends after this many hours or this many shadow predictions, whichever
    /// comes first (0 = that rule is off); both off = no shadow phase, the offline gate decides.
    public var minimumShadowHours = 24.0
    public var minimumShadowPredictions = 500
    /// A shadow candidate not yet measurably better keeps waiting for labels this long, then is rejected.
    public var maximumShadowHours = 168.0
    /// Promote by itself, or wait for an admin's approval (the report says "approve").
    public var autoPromote = true
    public var bootstrapResamples = 2000

    public init() {}

    /// The shadow phase is part of the gate.
    public var usesShadow: Bool { minimumShadowHours > 0 || minimumShadowPredictions > 0 }

    /// Field → problem, for every out-of-range setting (empty when the policy is valid).
    public func problems() -> [(field: String, message: String)] {
        var out: [(String, String)] = []
        func fraction(_ v: Double, _ field: String) {
            if !v.isFinite || v < 0 || v > 1 { out.append((field, "must be between 0 and 1")) }
        }
        if minimumPairedSamples < 1 || minimumPairedSamples > 1_000_000 { out.append(("minimum_paired_samples", "must be between 1 and 1000000")) }
        // Not arbitrarily small: 1 − α must stay a confidence level below 1 in floating point.
        if !significanceLevel.isFinite || significanceLevel < 1e-6 || significanceLevel > 0.5 {
            out.append(("significance_level", "must be between 0.000001 and 0.5"))
        }
        fraction(minimumGain, "minimum_gain")
        fraction(nonInferiorityMargin, "non_inferiority_margin")
        fraction(maximumGoldenRegression, "maximum_golden_regression")
        fraction(maximumRecallDrop, "maximum_recall_drop")
        if minimumIntentSupport < 1 || minimumIntentSupport > 100_000 { out.append(("minimum_intent_support", "must be between 1 and 100000")) }
        fraction(shadowSampleRate, "shadow_sample_rate")
        if !minimumShadowHours.isFinite || minimumShadowHours < 0 || minimumShadowHours > 24 * 365 {
            out.append(("minimum_shadow_hours", "must be between 0 and 8760"))
        }
        if minimumShadowPredictions < 0 || minimumShadowPredictions > 10_000_000 { out.append(("minimum_shadow_predictions", "must be between 0 and 10000000")) }
        if !maximumShadowHours.isFinite || maximumShadowHours < minimumShadowHours || maximumShadowHours > 24 * 365 {
            out.append(("maximum_shadow_hours", "must be at least minimum_shadow_hours and at most 8760"))
        }
        if shadowSampleRate == 0 && minimumShadowPredictions > 0 && minimumShadowHours == 0 {
            out.append(("shadow_sample_rate", "is 0, so the shadow phase would never collect minimum_shadow_predictions"))
        }
        // Each comparison and gate decision costs resamples × items: bounded.
        if bootstrapResamples < 100 || bootstrapResamples > 20_000 { out.append(("bootstrap_resamples", "must be between 100 and 20000")) }
        return out
    }

    enum CodingKeys: String, CodingKey {
        case mode
        case minimumPairedSamples = "minimum_paired_samples", significanceLevel = "significance_level", minimumGain = "minimum_gain"
        case nonInferiorityMargin = "non_inferiority_margin", maximumGoldenRegression = "maximum_golden_regression"
        case maximumRecallDrop = "maximum_recall_drop", minimumIntentSupport = "minimum_intent_support", shadowSampleRate = "shadow_sample_rate"
        case minimumShadowHours = "minimum_shadow_hours", minimumShadowPredictions = "minimum_shadow_predictions"
        case maximumShadowHours = "maximum_shadow_hours", autoPromote = "auto_promote", bootstrapResamples = "bootstrap_resamples"
    }

    /// Missing keys keep their defaults (a policy stored by an older version still decodes).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = GatePolicy()
        mode = try c.decodeIfPresent(Mode.self, forKey: .mode) ?? d.mode
        minimumPairedSamples = try c.decodeIfPresent(Int.self, forKey: .minimumPairedSamples) ?? d.minimumPairedSamples
        significanceLevel = try c.decodeIfPresent(Double.self, forKey: .significanceLevel) ?? d.significanceLevel
        minimumGain = try c.decodeIfPresent(Double.self, forKey: .minimumGain) ?? d.minimumGain
        nonInferiorityMargin = try c.decodeIfPresent(Double.self, forKey: .nonInferiorityMargin) ?? d.nonInferiorityMargin
        maximumGoldenRegression = try c.decodeIfPresent(Double.self, forKey: .maximumGoldenRegression) ?? d.maximumGoldenRegression
        maximumRecallDrop = try c.decodeIfPresent(Double.self, forKey: .maximumRecallDrop) ?? d.maximumRecallDrop
        minimumIntentSupport = try c.decodeIfPresent(Int.self, forKey: .minimumIntentSupport) ?? d.minimumIntentSupport
        shadowSampleRate = try c.decodeIfPresent(Double.self, forKey: .shadowSampleRate) ?? d.shadowSampleRate
        minimumShadowHours = try c.decodeIfPresent(Double.self, forKey: .minimumShadowHours) ?? d.minimumShadowHours
        minimumShadowPredictions = try c.decodeIfPresent(Int.self, forKey: .minimumShadowPredictions) ?? d.minimumShadowPredictions
        maximumShadowHours = try c.decodeIfPresent(Double.self, forKey: .maximumShadowHours) ?? d.maximumShadowHours
        autoPromote = try c.decodeIfPresent(Bool.self, forKey: .autoPromote) ?? d.autoPromote
        bootstrapResamples = try c.decodeIfPresent(Int.self, forKey: .bootstrapResamples) ?? d.bootstrapResamples
    }
}
