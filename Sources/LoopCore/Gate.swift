import Foundation
import GateStatistics

/// One utterance both adapters classified, with the label agents (or the dataset) gave it.
public struct PairedItem: Sendable, Codable, Equatable {
    public let label: String
    public let candidate: String
    public let baseline: String
    public init(label: String, candidate: String, baseline: String) {
        self.label = label
        self.candidate = candidate
        self.baseline = baseline
    }
}

/// Paired accuracy figures on one set of items: each model's accuracy (Wilson interval), the
/// difference (paired bootstrap interval), the exact McNemar test, and the smallest difference
/// this many pairs can detect (α of the policy, power 0.8).
public struct PairedFigures: Sendable, Codable, Equatable {
    public let n: Int
    public let candidate: Interval
    public let baseline: Interval
    public let difference: Interval
    public let mcnemar: McNemarResult
    public let minimumDetectableDifference: Double?

    public init(_ items: [PairedItem], confidence: Double, resamples: Int, seed: UInt64 = 1) {
        let c = items.map { $0.candidate == $0.label }, b = items.map { $0.baseline == $0.label }
        n = items.count
        candidate = Wilson.interval(successes: c.filter { $0 }.count, trials: n, confidence: confidence)
        baseline = Wilson.interval(successes: b.filter { $0 }.count, trials: n, confidence: confidence)
        difference = PairedBootstrap.accuracyDifference(candidate: c, baseline: b, resamples: resamples, confidence: confidence, seed: seed)
        mcnemar = McNemar.test(candidate: c, baseline: b)
        let discordant = mcnemar.candidateOnly + mcnemar.baselineOnly
        minimumDetectableDifference = n == 0 ? nil
            : McNemar.minimumDetectableDifference(pairs: n, discordantRate: max(Double(discordant), 1) / Double(n), alpha: 1 - confidence)
    }

    enum CodingKeys: String, CodingKey {
        case n, candidate, baseline, difference, mcnemar
        case minimumDetectableDifference = "minimum_detectable_difference"
    }
}

/// An intent whose recall fell from the baseline to the candidate on one set of items.
public struct RecallDrop: Sendable, Codable, Equatable {
    public let source: String
    public let intent: String
    public let support: Int
    public let baseline: Double
    public let candidate: Double
    /// One-sided exact McNemar p-value of the fall (items only the baseline got right against items
    /// only the candidate got right): the chance of a fall at least this large between two equally
    /// good models. Absent in reports stored before it was computed.
    public var pValue: Double?

    enum CodingKeys: String, CodingKey {
        case source, intent, support, baseline, candidate
        case pValue = "p_value"
    }
}

/// What the gate knows about a candidate against the production adapter it would replace.
public struct GateEvidence: Sendable {
    public var evaluationPool: [PairedItem] = []
    public var golden: [PairedItem] = []
    /// The golden set paired with the *first* production adapter instead of the current one, when
    /// they differ: each promotion is judged against the adapter it replaces, so a slow slide of one
    /// intent (a poisoning, a little more each week) never shows as one large fall; against the
    /// first adapter it does.
    public var goldenFirst: [PairedItem] = []
    /// Shadow predictions on live traffic that agents have since confirmed or corrected.
    public var shadowLabelled: [PairedItem] = []
    /// Shadow predictions recorded so far (labelled or not), and how many agreed with production.
    public var shadowPredictions = 0
    public var shadowAgreements = 0
    public var shadowHours = 0.0
    /// The candidate trained on feedback the production adapter had not (non-inferiority).
    public var candidateLearnedMore = false
    /// Golden items the candidate was evaluated on: with some, the golden rule needs paired
    /// evidence (its parent's outcomes) and a candidate without it is not promoted.
    public var goldenExpected = 0
    public init() {}
}

public enum GateStage: String, Sendable, Codable {
    /// A fresh candidate: evaluation pool and golden set only.
    case offline
    /// Running beside production on live traffic.
    case shadow
}

public enum GateVerdict: String, Sendable, Codable {
    case promote
    /// Would promote, but the policy waits for an admin's approval.
    case approve
    /// Passed the offline gate: run beside production.
    case shadow
    /// Keep collecting evidence.
    case wait
    case reject
}

/// The gate's decision with everything that led to it (stored with the adapter and shown).
public struct GateReport: Sendable, Codable, Equatable {
    public let stage: GateStage
    public let verdict: GateVerdict
    /// The rule that decided (e.g. `golden_regression`, `significant_gain`).
    public let rule: String
    public let reasons: [String]
    public let policy: GatePolicy
    /// "paired" (evaluation pool + labelled shadow: the test that promotes), "evaluation_pool",
    /// "golden", "shadow".
    public let figures: [String: PairedFigures]
    public let recallDrops: [RecallDrop]
    public let shadowPredictions: Int
    public let shadowAgreementRate: Double?
    public let shadowHours: Double

    enum CodingKeys: String, CodingKey {
        case stage, verdict, rule, reasons, policy, figures
        case recallDrops = "recall_drops", shadowPredictions = "shadow_predictions", shadowAgreementRate = "shadow_agreement_rate"
        case shadowHours = "shadow_hours"
    }
}

/// The promotion gate: a pure function of the stage, the evidence and the policy. In order:
/// golden-set regression and per-intent recall collapse reject at any stage; a candidate
/// significantly worse on the paired items is rejected; an offline pass goes to shadow when the
/// policy has a shadow phase; then superiority (McNemar p < α and gain ≥ minimum) or
/// non-inferiority (learned more, bootstrap lower bound ≥ −margin) promotes — or asks for
/// approval — once there are enough paired items; otherwise the candidate waits for labels
/// until the longest shadow time, and is then rejected as not measurably better.
public enum Gate {
    public static func decide(stage: GateStage, evidence e: GateEvidence, policy: GatePolicy) -> GateReport {
        let confidence = 1 - policy.significanceLevel
        let paired = e.evaluationPool + e.shadowLabelled
        var figures: [String: PairedFigures] = [:]
        for (name, items) in [("paired", paired), ("evaluation_pool", e.evaluationPool), ("golden", e.golden), ("shadow", e.shadowLabelled)]
        where !items.isEmpty || name == "paired" {
            figures[name] = PairedFigures(items, confidence: confidence, resamples: policy.bootstrapResamples)
        }
        // Recall is judged where the sample is unbiased: the golden set and the evaluation pool. Labelled
        // shadow traffic is not (agents review disagreements first), so it feeds only the paired test.
        let drops = (recallDrops(e.golden, source: "golden", policy: policy) + recallDrops(e.goldenFirst, source: "golden_first", policy: policy)
            + recallDrops(e.evaluationPool, source: "evaluation_pool", policy: policy))
            .sorted { ($0.baseline - $0.candidate, $0.intent) > ($1.baseline - $1.candidate, $1.intent) }
        func report(_ verdict: GateVerdict, _ rule: String, _ reasons: [String]) -> GateReport {
            GateReport(stage: stage, verdict: verdict, rule: rule, reasons: reasons, policy: policy, figures: figures, recallDrops: drops,
                       shadowPredictions: e.shadowPredictions,
                       shadowAgreementRate: e.shadowPredictions > 0 ? Double(e.shadowAgreements) / Double(e.shadowPredictions) : nil,
                       shadowHours: e.shadowHours)
        }

        if e.goldenExpected > 0 && e.golden.isEmpty {
            return report(.reject, "no_golden_evidence", [
                "the candidate was evaluated on \(e.goldenExpected) golden items but the production adapter's outcomes on them are missing, so the golden-set rule cannot be checked; retrain",
            ])
        }
        if let golden = figures["golden"], golden.difference.estimate < -policy.maximumGoldenRegression {
            return report(.reject, "golden_regression", [
                "golden-set accuracy fell \(points(-golden.difference.estimate)) (\(percent(golden.baseline.estimate)) → \(percent(golden.candidate.estimate)), n = \(golden.n)); the policy accepts at most \(points(policy.maximumGoldenRegression))",
            ])
        }
        if let worst = drops.first {
            return report(.reject, "intent_recall_drop", drops.prefix(5).map {
                "recall of \($0.intent) on the \(["golden": "golden set", "golden_first": "golden set against the first production adapter"][$0.source] ?? "evaluation pool") fell \(percent($0.baseline)) → \(percent($0.candidate)) (n = \($0.support), one-sided p \(pEquals($0.pValue ?? 1))); the policy accepts a fall of at most \(points(policy.maximumRecallDrop))"
            } + (drops.count > 5 ? ["and \(drops.count - 5) more (worst: \(worst.intent))"] : []))
        }
        let p = figures["paired"]!
        let summary = "paired items: \(percent(p.baseline.estimate)) → \(percent(p.candidate.estimate)) (\(signedPoints(p.difference.estimate)), \(Int(confidence * 100)) % interval \(signedPoints(p.difference.lower)) … \(signedPoints(p.difference.upper))), McNemar \(p.mcnemar.candidateOnly) vs \(p.mcnemar.baselineOnly), p \(pEquals(p.mcnemar.pValue)), n = \(p.n)"
        if p.n > 0, p.difference.estimate < 0, p.mcnemar.pValue < policy.significanceLevel {
            return report(.reject, "significantly_worse", ["the candidate is significantly worse: " + summary])
        }
        if stage == .offline && policy.usesShadow {
            return report(.shadow, "offline_passed", ["no regression on the golden set or any intent; " + summary + "; next: shadow on live traffic"])
        }
        if stage == .shadow && policy.usesShadow {
            let byHours = policy.minimumShadowHours > 0 && e.shadowHours >= policy.minimumShadowHours
            let byVolume = policy.minimumShadowPredictions > 0 && e.shadowPredictions >= policy.minimumShadowPredictions
            if !(byHours || byVolume) {
                return report(.wait, "shadow_running", [
                    "shadow has run \(String(format: "%.1f", e.shadowHours)) h with \(e.shadowPredictions) predictions; it ends at \(String(format: "%.1f", policy.minimumShadowHours)) h or \(policy.minimumShadowPredictions) predictions",
                ])
            }
        }
        let promote: GateVerdict = policy.autoPromote ? .promote : .approve
        let enough = p.n >= policy.minimumPairedSamples
        let mdd = p.minimumDetectableDifference.map { "; at n = \(p.n) the smallest difference this test can detect is about \(points($0))" } ?? ""
        switch policy.mode {
        case .superiority:
            if enough, p.difference.estimate > 0, p.difference.estimate >= policy.minimumGain, p.mcnemar.pValue < policy.significanceLevel {
                return report(promote, "significant_gain", ["the candidate is better: " + summary])
            }
        case .nonInferiority:
            if enough, e.candidateLearnedMore, p.difference.lower >= -policy.nonInferiorityMargin {
                return report(promote, "non_inferior", [
                    "the candidate learned from new feedback and is not worse: " + summary + "; the lower bound is within the margin of \(points(policy.nonInferiorityMargin))",
                ])
            }
        }
        let why = !enough ? "not enough paired evidence (\(p.n) of \(policy.minimumPairedSamples) items)"
            : policy.mode == .superiority ? "not measurably better: " + summary + mdd
            : !e.candidateLearnedMore ? "the candidate learned nothing the production adapter had not seen"
            : "not shown non-inferior: " + summary + mdd
        if stage == .shadow && e.shadowHours < policy.maximumShadowHours {
            return report(.wait, enough ? "not_yet_better" : "insufficient_evidence", [why + "; waiting for labelled shadow traffic until \(String(format: "%.0f", policy.maximumShadowHours)) h"])
        }
        return report(.reject, enough ? "not_better" : "insufficient_evidence", [why])
    }

    /// Intents (with enough items) whose recall fell by more than the policy accepts, with evidence:
    /// the one-sided exact McNemar test on that intent's items must reject "no change" at the
    /// policy's α. Without the test, a golden set of 5 items per intent over 150 intents flags some
    /// intent in almost every better candidate (two items lost of five is a 40-point fall): the
    /// CLINC150 simulation (5 golden items per intent, 2026-12-02) rejected a candidate 2.9 points
    /// better on "payday" 5 → 2 of 5. The price is power: at α 0.05 a fall needs at least 5 net
    /// losses (5 of 5, 5 of 10 with none gained, p = 0.031); 4 of 10 lost (p = 0.0625) passes, so a
    /// partial poisoning of one intent needs a golden set of 10 or more items per intent to be seen.
    static func recallDrops(_ items: [PairedItem], source: String, policy: GatePolicy) -> [RecallDrop] {
        var total: [String: Int] = [:], candidate: [String: Int] = [:], baseline: [String: Int] = [:]
        var lost: [String: Int] = [:], gained: [String: Int] = [:]
        for item in items {
            total[item.label, default: 0] += 1
            let c = item.candidate == item.label, b = item.baseline == item.label
            if c { candidate[item.label, default: 0] += 1 }
            if b { baseline[item.label, default: 0] += 1 }
            if b && !c { lost[item.label, default: 0] += 1 }
            if c && !b { gained[item.label, default: 0] += 1 }
        }
        return total.compactMap { intent, n -> RecallDrop? in
            guard n >= policy.minimumIntentSupport else { return nil }
            let b = Double(baseline[intent, default: 0]) / Double(n), c = Double(candidate[intent, default: 0]) / Double(n)
            // A hair's tolerance so that 0.25 accepted means a fall of exactly 0.25 passes.
            guard b - c > policy.maximumRecallDrop + 1e-12 else { return nil }
            let l = lost[intent, default: 0], g = gained[intent, default: 0]
            let p = Binomial.lowerTail(g, trials: l + g)
            guard p < policy.significanceLevel else { return nil }
            return RecallDrop(source: source, intent: intent, support: n, baseline: b, candidate: c, pValue: p)
        }
    }
}

func percent(_ x: Double) -> String { String(format: "%.1f %%", x * 100) }
func points(_ x: Double) -> String { String(format: "%.1f points", x * 100) }
func signedPoints(_ x: Double) -> String { String(format: "%+.1f", x * 100) }
/// A p-value as reports print it: four decimals, "< 0.0001" below.
public func pValue(_ p: Double) -> String { p < 0.0001 ? "< 0.0001" : String(format: "%.4f", p) }

/// "= 0.0154" or "< 0.0001": for "p \(pEquals(x))" in a sentence.
public func pEquals(_ p: Double) -> String { p < 0.0001 ? "< 0.0001" : "= " + pValue(p) }

/// A difference of proportions in points with its interval: "+1.2 (−0.3 … +2.8)".
public func pointsInterval(_ i: Interval) -> String {
    String(format: "%+.1f (%+.1f … %+.1f)", i.estimate * 100, i.lower * 100, i.upper * 100)
}
