import IntentData
import LoopCore
import Testing

@Suite struct DatasetAssemblyTests {
    typealias F = DatasetSnapshot.Feedback
    static let statuses = ["greet": "active", "bye": "active", "refund": "active", "new_one": "proposed", "old": "rejected", "gone": "retired"]

    static func snapshot(_ feedback: [F], training: [LabelledExample] = [], golden: [LabelledExample] = []) -> DatasetSnapshot {
        DatasetSnapshot(training: training, golden: golden, feedback: feedback, intentStatus: statuses)
    }

    /// A text outside the evaluation pool (so that it is trained on), found by trying suffixes.
    static func trainedText(_ base: String) -> String {
        (0...).lazy.map { "\(base) \($0)" }.first { !DatasetAssembly.inEvaluationPool(DatasetAssembly.key($0), percent: 20) }!
    }

    static func pooledText(_ base: String) -> String {
        (0...).lazy.map { "\(base) \($0)" }.first { DatasetAssembly.inEvaluationPool(DatasetAssembly.key($0), percent: 20) }!
    }

    @Test func correctionsBecomeExamplesAndPairs() {
        let text = Self.trainedText("hello there")
        let d = DatasetAssembly.assemble(Self.snapshot(
            [F(id: 1, text: text, verdict: "correct", intent: "greet", predictedIntent: "bye", byAdmin: false)],
            training: [LabelledExample(text: "bye now", intent: "bye")]))
        #expect(d.labels == ["bye", "greet"])
        #expect(d.training.contains(LabelledExample(text: text, intent: "greet")))
        #expect(d.pairs == [.init(text: text, chosen: "greet", rejected: "bye")])
        #expect(d.feedbackRange == 1...1)
    }

    @Test func conflictsResolveByAdminThenMajorityThenLatest() {
        let text = Self.trainedText("where is my money")
        func resolved(_ items: [F]) -> String? {
            DatasetAssembly.assemble(Self.snapshot(items)).training.first { DatasetAssembly.key($0.text) == DatasetAssembly.key(text) }?.intent
        }
        // Majority.
        #expect(resolved([F(id: 1, text: text, verdict: "submit", intent: "refund", predictedIntent: nil, byAdmin: false),
                          F(id: 2, text: text, verdict: "submit", intent: "refund", predictedIntent: nil, byAdmin: false),
                          F(id: 3, text: text, verdict: "submit", intent: "bye", predictedIntent: nil, byAdmin: false)]) == "refund")
        // A tie: the latest.
        #expect(resolved([F(id: 1, text: text, verdict: "submit", intent: "refund", predictedIntent: nil, byAdmin: false),
                          F(id: 2, text: text, verdict: "submit", intent: "bye", predictedIntent: nil, byAdmin: false)]) == "bye")
        // An admin outranks a majority; the latest admin wins. Case and spaces do not split the group.
        #expect(resolved([F(id: 1, text: text, verdict: "submit", intent: "refund", predictedIntent: nil, byAdmin: false),
                          F(id: 2, text: text.uppercased(), verdict: "submit", intent: "refund", predictedIntent: nil, byAdmin: false),
                          F(id: 3, text: "  " + text, verdict: "submit", intent: "greet", predictedIntent: nil, byAdmin: true),
                          F(id: 4, text: text, verdict: "submit", intent: "bye", predictedIntent: nil, byAdmin: true)]) == "bye")
    }

    @Test func proposedIntentsWaitAndRejectedOrRetiredLeave() {
        let a = Self.trainedText("a new thing"), b = Self.trainedText("an old thing"), c = Self.trainedText("a gone thing")
        let d = DatasetAssembly.assemble(Self.snapshot(
            [F(id: 1, text: a, verdict: "submit", intent: "new_one", predictedIntent: nil, byAdmin: false),
             F(id: 2, text: b, verdict: "submit", intent: "old", predictedIntent: nil, byAdmin: false),
             F(id: 3, text: c, verdict: "correct", intent: "greet", predictedIntent: "gone", byAdmin: false)],
            training: [LabelledExample(text: "x", intent: "gone"), LabelledExample(text: "hi", intent: "greet")]))
        #expect(d.labels == ["greet"])
        #expect(d.summary["feedback_waiting_for_proposed_intent"] == 1)
        #expect(d.summary["feedback_dropped_inactive_intent"] == 1)
        #expect(d.summary["imported_dropped_inactive_intent"] == 1)
        #expect(d.pairs.isEmpty)  // the rejected side is no longer an intent of the head
        // Approved: the next assembly puts it in the head.
        var approved = Self.snapshot([F(id: 1, text: a, verdict: "submit", intent: "new_one", predictedIntent: nil, byAdmin: false)])
        approved.intentStatus["new_one"] = "active"
        #expect(DatasetAssembly.assemble(approved).labels == ["new_one"])
    }

    @Test func evaluationPoolAndGoldenAreNeverTrainedOn() {
        let pooled = Self.pooledText("check my balance"), golden = Self.trainedText("golden words")
        let d = DatasetAssembly.assemble(Self.snapshot(
            [F(id: 1, text: pooled, verdict: "correct", intent: "refund", predictedIntent: "greet", byAdmin: false),
             F(id: 2, text: golden, verdict: "submit", intent: "greet", predictedIntent: nil, byAdmin: false)],
            training: [LabelledExample(text: pooled, intent: "refund"), LabelledExample(text: golden, intent: "greet"),
                       LabelledExample(text: "hi", intent: "greet")],
            golden: [LabelledExample(text: golden, intent: "greet")]))
        #expect(!d.training.contains { DatasetAssembly.key($0.text) == DatasetAssembly.key(pooled) })
        #expect(!d.training.contains { DatasetAssembly.key($0.text) == DatasetAssembly.key(golden) })
        #expect(d.pairs.isEmpty)
        #expect(d.evaluation == [LabelledExample(text: pooled, intent: "refund")] || !d.labels.contains("refund"))
        #expect(d.golden == [LabelledExample(text: golden, intent: "greet")])
    }

    @Test func aboutAFifthOfUtterancesGoToTheEvaluationPool() {
        let n = 5000
        let pooled = (0..<n).filter { DatasetAssembly.inEvaluationPool("utterance number \($0)", percent: 20) }.count
        #expect(abs(Double(pooled) / Double(n) - 0.2) < 0.02)
        // Stable: a fixed utterance's side never changes (this value is part of the product's data).
        #expect(DatasetAssembly.inEvaluationPool("where is my parcel", percent: 20) == DatasetAssembly.inEvaluationPool("where is my parcel", percent: 20))
    }

    @Test func deterministicWhateverTheRowOrder() {
        var items: [F] = []
        for i in 0..<200 {
            items.append(F(id: Int64(i + 1), text: "utterance \(i % 70)", verdict: i % 3 == 0 ? "correct" : "submit",
                           intent: ["greet", "bye", "refund"][i % 3], predictedIntent: i % 3 == 0 ? "bye" : nil, byAdmin: i % 17 == 0))
        }
        let training = (0..<50).map { LabelledExample(text: "seed \($0)", intent: ["greet", "bye", "refund"][$0 % 3]) }
        let a = DatasetAssembly.assemble(Self.snapshot(items, training: training))
        let b = DatasetAssembly.assemble(Self.snapshot(items.reversed(), training: training.shuffled()))
        #expect(a.sha256 == b.sha256)
        #expect(a.training == b.training && a.pairs == b.pairs && a.evaluation == b.evaluation && a.summary == b.summary)
        var more = items
        more.append(F(id: 999, text: "one more", verdict: "submit", intent: "greet", predictedIntent: nil, byAdmin: false))
        #expect(DatasetAssembly.assemble(Self.snapshot(more, training: training)).sha256 != a.sha256)
    }
}
