import GateStatistics
import LoopCore
import Testing

/// The promotion gate as a table of cases (`Gate.decide` is pure): evidence built from counts.
@Suite struct GateTests {
    /// `n` items of `intent`: `both` right for both, `onlyCandidate`/`onlyBaseline` right for one, the rest wrong for both.
    static func items(_ intent: String, both: Int, onlyCandidate: Int = 0, onlyBaseline: Int = 0, neither: Int = 0) -> [PairedItem] {
        Array(repeating: PairedItem(label: intent, candidate: intent, baseline: intent), count: both)
            + Array(repeating: PairedItem(label: intent, candidate: intent, baseline: "other"), count: onlyCandidate)
            + Array(repeating: PairedItem(label: intent, candidate: "other", baseline: intent), count: onlyBaseline)
            + Array(repeating: PairedItem(label: intent, candidate: "other", baseline: "other"), count: neither)
    }

    static var noShadow: GatePolicy {
        var p = GatePolicy()
        p.minimumShadowHours = 0
        p.minimumShadowPredictions = 0
        return p
    }

    /// A candidate that fixes 25 of the production adapter's errors and breaks 3 (p < 0.001).
    static var better: GateEvidence {
        var e = GateEvidence()
        e.evaluationPool = items("a", both: 100, onlyCandidate: 15, onlyBaseline: 2) + items("b", both: 100, onlyCandidate: 10, onlyBaseline: 1)
        e.golden = items("a", both: 50) + items("b", both: 50)
        return e
    }

    @Test func significantlyBetterIsPromoted() {
        let r = Gate.decide(stage: .offline, evidence: Self.better, policy: Self.noShadow)
        #expect(r.verdict == .promote && r.rule == "significant_gain")
        let p = r.figures["paired"]!
        #expect(p.n == 228 && p.mcnemar.candidateOnly == 25 && p.mcnemar.baselineOnly == 3 && p.mcnemar.pValue < 0.001)
        #expect(p.difference.lower > 0)
        #expect(r.reasons[0].contains("McNemar 25 vs 3"))
    }

    @Test func withoutAutoPromoteItAsksForApproval() {
        var policy = Self.noShadow
        policy.autoPromote = false
        #expect(Gate.decide(stage: .offline, evidence: Self.better, policy: policy).verdict == .approve)
    }

    @Test func withAShadowPhaseAnOfflinePassGoesToShadowFirst() {
        let r = Gate.decide(stage: .offline, evidence: Self.better, policy: GatePolicy())
        #expect(r.verdict == .shadow && r.rule == "offline_passed")
    }

    /// Better on the evaluation pool, but one intent's recall collapses on the golden set (while
    /// golden accuracy overall stays within its tolerance): rejected, naming the intent.
    @Test func betterOnThePoolButAnIntentRegressesOnGolden() throws {
        var e = Self.better
        e.golden = Self.items("a", both: 300) + Self.items("b", both: 300) + Self.items("c", both: 2, onlyBaseline: 6)
        var policy = Self.noShadow
        policy.maximumGoldenRegression = 0.02
        let r = Gate.decide(stage: .offline, evidence: e, policy: policy)
        #expect(r.verdict == .reject && r.rule == "intent_recall_drop")
        let drop = try #require(r.recallDrops.first)
        #expect(drop.source == "golden" && drop.intent == "c" && drop.support == 8 && drop.baseline == 1 && drop.candidate == 0.25)
        #expect(r.reasons[0].contains("recall of c on the golden set fell 100.0 % → 25.0 %"))
    }

    /// Five golden items per intent: two lost of five is a 40-point fall, but two equally good models
    /// differ that much by chance (one-sided p = 0.25) — not a collapse; five of five lost
    /// (p = 0.031) is, and four lost with one gained (p = 0.19) is not.
    @Test(arguments: [(2, 0, false), (5, 0, true), (4, 1, false), (4, 0, false)])
    func aRecallFallMustBeBothLargeAndSignificant(lost: Int, gained: Int, rejected: Bool) {
        var e = Self.better
        e.golden = Self.items("a", both: 300) + Self.items("b", both: 300)
            + Self.items("c", both: 5 - lost - gained, onlyBaseline: lost) + Self.items("c", both: 0, onlyCandidate: gained)
        var policy = Self.noShadow
        policy.maximumGoldenRegression = 0.05
        let r = Gate.decide(stage: .offline, evidence: e, policy: policy)
        #expect((r.rule == "intent_recall_drop") == rejected, "\(r.rule): \(r.reasons)")
        if rejected { #expect(r.reasons[0].contains("one-sided p = 0.0312")) }
    }

    /// One intent sliding a little at each promotion: no fall against the current production, a
    /// collapse against the first one.
    @Test func aSlowSlideIsCaughtAgainstTheFirstProductionAdapter() throws {
        var e = Self.better
        e.golden = Self.items("a", both: 300) + Self.items("c", both: 3, onlyBaseline: 1, neither: 6)
        e.goldenFirst = Self.items("a", both: 300) + Self.items("c", both: 3, onlyBaseline: 7)
        var policy = Self.noShadow
        policy.maximumGoldenRegression = 0.05
        let r = Gate.decide(stage: .offline, evidence: e, policy: policy)
        #expect(r.verdict == .reject && r.rule == "intent_recall_drop", "\(r.rule)")
        let drop = try #require(r.recallDrops.first)
        #expect(drop.source == "golden_first" && drop.intent == "c" && drop.baseline == 1 && drop.candidate == 0.3)
        #expect(r.reasons[0].contains("against the first production adapter"))
        e.goldenFirst = []
        #expect(Gate.decide(stage: .offline, evidence: e, policy: policy).rule != "intent_recall_drop")
    }

    @Test func goldenRegressionBeyondToleranceIsRejected() {
        var e = Self.better
        e.golden = Self.items("a", both: 90, onlyBaseline: 10) + Self.items("b", both: 100)
        var policy = Self.noShadow
        policy.maximumRecallDrop = 1  // only the golden-set rule
        let r = Gate.decide(stage: .offline, evidence: e, policy: policy)
        #expect(r.verdict == .reject && r.rule == "golden_regression")
        #expect(r.reasons[0].contains("fell 5.0 points"))
    }

    @Test func anEqualCandidateIsNotPromoted() {
        var e = GateEvidence()
        e.evaluationPool = Self.items("a", both: 200, onlyCandidate: 6, onlyBaseline: 6)
        e.golden = Self.items("a", both: 100)
        let offline = Gate.decide(stage: .offline, evidence: e, policy: Self.noShadow)
        #expect(offline.verdict == .reject && offline.rule == "not_better")
        #expect(offline.figures["paired"]!.mcnemar.pValue == 1)
        #expect(offline.reasons[0].contains("smallest difference this test can detect"))
        // In shadow it waits for labels until the longest shadow time, then is rejected.
        e.shadowPredictions = 1000
        e.shadowHours = 30
        #expect(Gate.decide(stage: .shadow, evidence: e, policy: GatePolicy()).verdict == .wait)
        e.shadowHours = 200
        #expect(Gate.decide(stage: .shadow, evidence: e, policy: GatePolicy()).verdict == .reject)
    }

    @Test func slightlyBetterButNotSignificantIsNotPromoted() {
        var e = GateEvidence()
        e.evaluationPool = Self.items("a", both: 200, onlyCandidate: 7, onlyBaseline: 3)
        let r = Gate.decide(stage: .offline, evidence: e, policy: Self.noShadow)
        #expect(r.verdict == .reject && r.rule == "not_better")
        #expect(r.figures["paired"]!.mcnemar.pValue > 0.3)
    }

    @Test func significantlyWorseIsRejectedAtOnce() {
        var e = GateEvidence()
        e.evaluationPool = Self.items("a", both: 200, onlyCandidate: 2, onlyBaseline: 20)
        let r = Gate.decide(stage: .offline, evidence: e, policy: GatePolicy())
        #expect(r.verdict == .reject && r.rule == "significantly_worse")
    }

    @Test func tooFewPairsIsInsufficientEvidence() {
        var e = GateEvidence()
        e.evaluationPool = Self.items("a", both: 5, onlyCandidate: 4)
        let r = Gate.decide(stage: .offline, evidence: e, policy: Self.noShadow)
        #expect(r.verdict == .reject && r.rule == "insufficient_evidence")
        #expect(r.reasons[0].contains("9 of 30 items"))
    }

    @Test func shadowRunsUntilItsHoursOrVolume() {
        var e = Self.better
        e.shadowPredictions = 100
        e.shadowHours = 2
        #expect(Gate.decide(stage: .shadow, evidence: e, policy: GatePolicy()).verdict == .wait)
        e.shadowPredictions = 500
        #expect(Gate.decide(stage: .shadow, evidence: e, policy: GatePolicy()).verdict == .promote)
        e.shadowPredictions = 10
        e.shadowHours = 25
        #expect(Gate.decide(stage: .shadow, evidence: e, policy: GatePolicy()).verdict == .promote)
    }

    /// Labelled shadow traffic adds to the paired evidence: the pool alone is not significant,
    /// pool + shadow is.
    @Test func labelledShadowTrafficCountsAsPairedEvidence() {
        var e = GateEvidence()
        e.evaluationPool = Self.items("a", both: 50, onlyCandidate: 4, onlyBaseline: 1)
        e.shadowHours = 30
        e.shadowPredictions = 800
        e.shadowAgreements = 700
        #expect(Gate.decide(stage: .shadow, evidence: e, policy: GatePolicy()).verdict == .wait)
        e.shadowLabelled = Self.items("a", both: 80, onlyCandidate: 8, onlyBaseline: 1)
        let r = Gate.decide(stage: .shadow, evidence: e, policy: GatePolicy())
        #expect(r.verdict == .promote && r.figures["shadow"]!.n == 89 && r.shadowAgreementRate == 0.875)
    }

    @Test func nonInferiorityPromotesACandidateThatLearnedMore() {
        var e = GateEvidence()
        e.evaluationPool = Self.items("a", both: 400, onlyCandidate: 2, onlyBaseline: 1)
        var policy = Self.noShadow
        policy.mode = .nonInferiority
        policy.nonInferiorityMargin = 0.02
        #expect(Gate.decide(stage: .offline, evidence: e, policy: policy).rule == "not_better")  // learned nothing new
        e.candidateLearnedMore = true
        #expect(Gate.decide(stage: .offline, evidence: e, policy: policy).verdict == .promote)
        policy.nonInferiorityMargin = 0.001  // the interval's lower bound reaches below −0.1 point
        #expect(Gate.decide(stage: .offline, evidence: e, policy: policy).verdict == .reject)
    }

    @Test func policyValidationNamesTheField() {
        var p = GatePolicy()
        #expect(p.problems().isEmpty)
        p.significanceLevel = 5e-324  // 1 − α would round to 1
        p.shadowSampleRate = 1.5
        p.minimumPairedSamples = -1
        #expect(Set(p.problems().map(\.field)) == ["significance_level", "shadow_sample_rate", "minimum_paired_samples"])
        p = GatePolicy()
        p.shadowSampleRate = 0
        p.minimumShadowHours = 0
        #expect(p.problems().map(\.field) == ["shadow_sample_rate"])
        p.maximumShadowHours = .nan
        #expect(p.problems().contains { $0.field == "maximum_shadow_hours" })
    }
}
