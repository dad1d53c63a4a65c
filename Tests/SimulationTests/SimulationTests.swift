import Foundation
import GateStatistics
import IntentData
import Simulation
import Testing

@Suite struct SimulationSplitTests {
    static func dataset(intents: Int, perIntent: Int) -> [LabelledExample] {
        (0..<intents).flatMap { i in (0..<perIntent).map { LabelledExample(text: "utterance \($0) of intent \(i)", intent: "intent_\(i)") } }
    }

    @Test func everyExampleLandsInExactlyOnePart() {
        let data = Self.dataset(intents: 7, perIntent: 20)
        let split = SimulationSplit.make(data, bootstrapPerIntent: 5, goldenPerIntent: 3, seed: 9)
        #expect(split.bootstrap.count == 35)
        #expect(split.golden.count == 21)
        #expect(split.pool.count == 140 - 56)
        #expect(Set(split.bootstrap + split.golden + split.pool) == Set(data))
        for intent in split.intents {
            #expect(split.bootstrap.filter { $0.intent == intent }.count == 5)
            #expect(split.golden.filter { $0.intent == intent }.count == 3)
        }
    }

    @Test func theSeedFixesTheSplitAndAnotherSeedChangesIt() {
        let data = Self.dataset(intents: 5, perIntent: 30)
        let a = SimulationSplit.make(data, bootstrapPerIntent: 5, goldenPerIntent: 2, seed: 1)
        #expect(a == SimulationSplit.make(data, bootstrapPerIntent: 5, goldenPerIntent: 2, seed: 1))
        #expect(a.pool != SimulationSplit.make(data, bootstrapPerIntent: 5, goldenPerIntent: 2, seed: 2).pool)
        // The pool is shuffled across intents, not sent intent by intent.
        #expect(a.pool.prefix(10).map(\.intent) != Array(repeating: a.pool[0].intent, count: 10))
    }

    @Test func aSmallIntentGivesWhatItHasToTheBootstrapFirst() {
        let data = Self.dataset(intents: 2, perIntent: 10) + [LabelledExample(text: "rare one", intent: "rare"), LabelledExample(text: "rare two", intent: "rare")]
        let split = SimulationSplit.make(data, bootstrapPerIntent: 5, goldenPerIntent: 5, seed: 3)
        #expect(split.bootstrap.filter { $0.intent == "rare" }.count == 2)
        #expect(split.golden.filter { $0.intent == "rare" }.isEmpty)
        #expect(split.pool.filter { $0.intent == "rare" }.isEmpty)
    }

    @Test func anIntentLimitKeepsThatManyIntentsAndRestrictsTheTestSet() {
        let data = Self.dataset(intents: 30, perIntent: 8)
        let split = SimulationSplit.make(data, bootstrapPerIntent: 2, goldenPerIntent: 1, intentLimit: 4, seed: 5)
        #expect(split.intents.count == 4)
        #expect(Set((split.bootstrap + split.golden + split.pool).map(\.intent)) == Set(split.intents))
        let test = Self.dataset(intents: 30, perIntent: 2)
        #expect(split.restricted(test).count == 8)
        #expect(split.intents != SimulationSplit.make(data, bootstrapPerIntent: 2, goldenPerIntent: 1, intentLimit: 4, seed: 6).intents)
    }

    @Test(arguments: [
        // (pool size, per week, week, first index sent)
        (10, 4, 1, 0), (10, 4, 2, 4), (10, 4, 3, 8),
    ])
    func trafficTakesTheNextUtterancesAndWrapsAround(pool: Int, perWeek: Int, week: Int, first: Int) {
        let examples = (0..<pool).map { LabelledExample(text: "t\($0)", intent: "a") }
        let split = SimulationSplit(intents: ["a"], bootstrap: [], golden: [], pool: examples)
        let sent = split.traffic(week: week, perWeek: perWeek)
        #expect(sent.count == perWeek)
        #expect(sent.map(\.text) == (first..<(first + perWeek)).map { "t\($0 % pool)" })
    }
}

@Suite struct SimulatedAgentTests {
    let intents = ["a", "b", "c", "d"]

    @Test func aCleanAgentGivesTheTruth() {
        var rng = SplitMix64(seed: 1)
        let agent = SimulatedAgent(intents: intents)
        for _ in 0..<100 { #expect(agent.label(truth: "c", rng: &rng) == "c") }
    }

    @Test(arguments: [0.0, 0.2, 0.5, 1.0])
    func noiseIsWrongAtItsRateAndNeverTheTruthWhenWrong(noise: Double) {
        var rng = SplitMix64(seed: 7)
        let agent = SimulatedAgent(intents: intents, noise: noise)
        let n = 20_000
        let labels = (0..<n).map { _ in agent.label(truth: "a", rng: &rng) }
        let wrong = labels.filter { $0 != "a" }
        #expect(abs(Double(wrong.count) / Double(n) - noise) < 0.015)
        #expect(wrong.allSatisfy { intents.contains($0) })
        if noise > 0 {
            // Uniform over the three others.
            for other in ["b", "c", "d"] {
                let share = Double(wrong.filter { $0 == other }.count) / Double(wrong.count)
                #expect(abs(share - 1.0 / 3) < 0.03)
            }
        }
    }

    @Test func poisonRelabelsOneIntentAlwaysAndLeavesTheOthers() {
        var rng = SplitMix64(seed: 2)
        let agent = SimulatedAgent(intents: intents, poison: Poison("b:d"))
        #expect(agent.label(truth: "b", rng: &rng) == "d")
        #expect(agent.label(truth: "a", rng: &rng) == "a")
        #expect(agent.label(truth: "d", rng: &rng) == "d")
    }

    @Test(arguments: [("a:b", true), ("a:a", false), ("a", false), (":b", false), ("a:", false), ("a:b:c", false)])
    func poisonSpecs(spec: String, valid: Bool) {
        #expect((Poison(spec) != nil) == valid)
    }
}

@Suite struct SimulationReportTests {
    static func report() -> SimulationReport {
        var settings = SimulationSettings()
        settings.intents = 10
        settings.bootstrapPerIntent = 5
        var r = SimulationReport(settings: settings)
        r.bootstrapVersion = "v1"
        r.bootstrap = TestFigures(accuracy: 0.8, macroF1: 0.79)
        var w1 = SimulationWeek(week: 1)
        w1.feedback = 30
        w1.candidateVersion = "j1"
        w1.candidateAccuracy = 0.85
        w1.decision = "promote"
        w1.reason = "significant_gain: <script>alert(1)</script>"
        w1.productionVersion = "v1"
        w1.productionAccuracy = 0.8
        var w2 = SimulationWeek(week: 2)
        w2.trains = false
        w2.feedback = 60
        w2.productionVersion = "j1"
        w2.productionAccuracy = 0.85
        r.weeks = [w1, w2]
        return r
    }

    @Test func theJSONHasTheIssuesKeys() throws {
        let encoder = JSONEncoder()
        let object = try JSONSerialization.jsonObject(with: encoder.encode(Self.report())) as? [String: Any]
        let week = try #require((object?["weeks"] as? [[String: Any]])?.first)
        for key in ["week", "feedback", "candidate_accuracy", "decision", "reason", "production_version", "production_accuracy", "production_macro_f1"] {
            #expect(week[key] != nil, "missing \(key)")
        }
        let decoded = try JSONDecoder().decode(SimulationReport.self, from: encoder.encode(Self.report()))
        #expect(decoded.weeks == Self.report().weeks)
    }

    @Test func theTableHasABootstrapRowAndOneRowPerWeek() {
        let lines = Self.report().table().split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[1].contains("bootstrap: 5 per intent"))
        #expect(lines[3].contains("2 (gate only)"))
        #expect(lines[3].contains("85.00 %"))
        #expect(Self.report().finalAccuracy == 0.85)
        #expect(Self.report().labelsPerIntent == 8)  // the gate-only round's reviews are not trained on
    }

    @Test func theChartHasOneLinePerRunAndEscapesNames() {
        let svg = SimulationChart.svg([(name: "uncertainty <1>", report: Self.report()), (name: "random", report: Self.report())], title: "t & u",
                                      reference: (name: "full data", accuracy: 0.9))
        #expect(svg.hasPrefix("<svg"))
        #expect(!svg.contains("<1>"))
        #expect(svg.contains("uncertainty &lt;1&gt;"))
        #expect(svg.contains("full data"))
        #expect(!svg.contains("<script"))
    }
}
