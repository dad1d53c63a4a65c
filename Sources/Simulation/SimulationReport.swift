import Foundation
import SVGCharts

/// What a simulation was asked to do (written with its results).
public struct SimulationSettings: Sendable, Codable, Equatable {
    public var data = ""
    public var test = ""
    public var intents = 0
    public var bootstrapPerIntent = 5
    public var goldenPerIntent = 10
    public var weeks = 6
    public var trafficPerWeek = 1500
    public var reviewsPerWeek = 300
    public var selection = ReviewSelection.uncertainty
    public var agentNoise = 0.0
    public var poison: String?
    public var seed: UInt64 = 1
    public var epochs: Int?
    public var gateMode = "superiority"
    /// λ of the jobs' DPO term when the run set it (nil: the job's default).
    public var dpoWeight: Double?
    public var server = ""
    public init() {}

    enum CodingKeys: String, CodingKey {
        case data, test, intents, weeks, selection, poison, seed, epochs, server
        case bootstrapPerIntent = "bootstrap_per_intent", goldenPerIntent = "golden_per_intent", trafficPerWeek = "traffic_per_week"
        case reviewsPerWeek = "reviews_per_week", agentNoise = "agent_noise", gateMode = "gate_mode", dpoWeight = "dpo_weight"
    }
}

/// One adapter's figures on the test set.
public struct TestFigures: Sendable, Codable, Equatable {
    public let accuracy: Double
    public let macroF1: Double
    /// Recall of the poisoned intent, when there is one.
    public let poisonedRecall: Double?
    public init(accuracy: Double, macroF1: Double, poisonedRecall: Double? = nil) {
        self.accuracy = accuracy
        self.macroF1 = macroF1
        self.poisonedRecall = poisonedRecall
    }
    enum CodingKeys: String, CodingKey {
        case accuracy
        case macroF1 = "macro_f1", poisonedRecall = "poisoned_recall"
    }
}

/// One simulated week: traffic, reviews, the gate's decision on the candidate that shadowed this
/// week's traffic, the training of the next candidate, and production's figures at its end.
/// `candidate…` and `decision` describe the candidate *trained* this week; its final decision is
/// taken on the next week's shadow evidence and filled in then (the last candidate is decided in
/// a final round of traffic and reviews that trains nothing: `trains` is false there).
public struct SimulationWeek: Sendable, Codable, Equatable {
    public var week: Int
    public var trains = true
    /// Reviews submitted so far (this week's included) and how many were corrections.
    public var feedback = 0
    public var corrections = 0
    /// Production's accuracy on this week's traffic (what the clients were answered).
    public var trafficAccuracy: Double?
    public var candidateVersion: String?
    public var candidateAccuracy: Double?
    public var candidateMacroF1: Double?
    /// promote, reject, approve (waits for an admin), superseded, pending — the gate's verdict.
    public var decision: String?
    public var reason: String?
    public var productionVersion = ""
    public var productionAccuracy = 0.0
    public var productionMacroF1 = 0.0
    public var productionPoisonedRecall: Double?
    public var candidatePoisonedRecall: Double?
    /// The candidate's golden-set accuracy minus its parent's, from the gate's last report on it.
    public var candidateGoldenChange: Double?
    public var wallSeconds = 0.0
    public init(week: Int) { self.week = week }

    enum CodingKeys: String, CodingKey {
        case week, trains, feedback, corrections, decision, reason
        case trafficAccuracy = "traffic_accuracy", candidateVersion = "candidate_version", candidateAccuracy = "candidate_accuracy"
        case candidateMacroF1 = "candidate_macro_f1", productionVersion = "production_version", productionAccuracy = "production_accuracy"
        case productionMacroF1 = "production_macro_f1", productionPoisonedRecall = "production_poisoned_recall"
        case candidatePoisonedRecall = "candidate_poisoned_recall", wallSeconds = "wall_seconds", candidateGoldenChange = "candidate_golden_change"
    }
}

/// A simulation's result: settings, the bootstrap adapter, the weeks, and every promotion.
public struct SimulationReport: Sendable, Codable, Equatable {
    public var settings: SimulationSettings
    public var bootstrapVersion = ""
    public var bootstrap = TestFigures(accuracy: 0, macroF1: 0)
    public var weeks: [SimulationWeek] = []
    public var testSize = 0
    public var startedAt = Date()
    public var wallSeconds = 0.0
    public init(settings: SimulationSettings) { self.settings = settings }

    enum CodingKeys: String, CodingKey {
        case settings, bootstrap, weeks
        case bootstrapVersion = "bootstrap_version", testSize = "test_size", startedAt = "started_at", wallSeconds = "wall_seconds"
    }

    /// Production's test accuracy at the end, or the bootstrap's before any week.
    public var finalAccuracy: Double { weeks.last?.productionAccuracy ?? bootstrap.accuracy }

    /// Labels per intent the last trained candidate could learn from: the bootstrap's and the
    /// reviews up to the last week that trained (a final gate-only round's reviews judge, not train).
    public var labelsPerIntent: Double {
        settings.intents == 0 ? 0 : Double(settings.bootstrapPerIntent) + Double(weeks.last(where: \.trains)?.feedback ?? 0) / Double(settings.intents)
    }

    /// The weekly table `intentloop simulate` prints.
    public func table() -> String {
        func pct(_ v: Double?) -> String { v.map { String(format: "%.2f %%", $0 * 100) } ?? "—" }
        var rows = [["week", "feedback", "traffic acc.", "candidate", "cand. acc.", "decision", "reason", "production", "prod. acc.", "prod. F1", "wall"]]
        rows.append(["0", "0", "—", "—", "—", "—", "bootstrap: \(settings.bootstrapPerIntent) per intent", bootstrapVersion, pct(bootstrap.accuracy),
                     pct(bootstrap.macroF1), "—"])
        for w in weeks {
            rows.append(["\(w.week)\(w.trains ? "" : " (gate only)")", "\(w.feedback)", pct(w.trafficAccuracy), w.candidateVersion ?? "—",
                         pct(w.candidateAccuracy), w.decision ?? "—", Self.shorten(w.reason ?? "", to: 70), w.productionVersion,
                         pct(w.productionAccuracy), pct(w.productionMacroF1), String(format: "%.0f s", w.wallSeconds)])
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    static func shorten(_ text: String, to limit: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }
}

/// The curves of one or more simulations as an SVG line chart: production accuracy on the test
/// set by week (week 0 = the bootstrap adapter), one series per run, plus the candidates of the
/// first run dashed in the legend's order.
public enum SimulationChart {
    public static func svg(_ runs: [(name: String, report: SimulationReport)], title: String, candidates: Bool = true,
                           reference: (name: String, accuracy: Double)? = nil) -> String {
        var series: [LineChart.Series] = []
        for run in runs {
            let points = [LineChart.Point(x: 0, y: run.report.bootstrap.accuracy)]
                + run.report.weeks.map { LineChart.Point(x: Double($0.week), y: $0.productionAccuracy) }
            series.append(.init(name: "\(run.name): production", points: points))
        }
        if candidates, let first = runs.first {
            let points = first.report.weeks.compactMap { w in w.candidateAccuracy.map { LineChart.Point(x: Double(w.week), y: $0) } }
            if !points.isEmpty { series.append(.init(name: "\(first.name): candidate trained that week", points: points)) }
        }
        if let reference {
            let last = Double(runs.map { $0.report.weeks.last?.week ?? 0 }.max() ?? 1)
            series.append(.init(name: reference.name, points: [.init(x: 0, y: reference.accuracy), .init(x: max(1, last), y: reference.accuracy)]))
        }
        let ys = series.flatMap { $0.points.map(\.y) }
        let low = max(0, ((ys.min() ?? 0) * 100).rounded(.down) / 100 - 0.01), high = min(1, ((ys.max() ?? 1) * 100).rounded(.up) / 100 + 0.005)
        return LineChart(title: title, series: series, xLabel: "week", yLabel: "test accuracy", yRange: low...max(high, low + 0.01),
                         xTicks: .integers, yFormatter: LineChart.percentFormatter(decimals: 0), showsTitle: true).svg()
    }
}
