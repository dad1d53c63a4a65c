import Foundation
import GateStatistics
import Hummingbird
import IntentStore
import SVGCharts

/// GET /admin: the admin's home — the production adapter (version, since when, golden-set
/// accuracy and macro-F1), prediction volume and confidence over the last
/// `DashboardWindow.days` days, the review backlog, verdicts per intent, and links to the jobs,
/// models and intents pages. Charts are server-rendered SVG (no script, no external asset).
struct AdminHomeRoutes {
    let store: Store
    let pages: WebPages

    func add(to router: Router<AppContext>) {
        router.get("admin", use: home)
    }

    @Sendable func home(_ request: Request, context: AppContext) async throws -> Response {
        if let refusal = try pages.refuseUnlessAdmin(context, request: request) { return refusal }
        let now = Date()
        let since = DashboardWindow.start(now: now)
        async let productionRecord = store.productionAdapter()
        async let latestDeployment = store.deployments(limit: 1)
        async let serving = store.servingVersions()
        async let dayRows = store.dashboardDays(since: since)
        async let backlogCount = store.reviewBacklog(since: since)
        async let reviewedToday = store.reviewedSince(DashboardWindow.today(now: now), agentID: context.user?.id ?? 0)
        async let verdictRows = store.verdictsByIntent(since: since, limit: 15)
        let production = try await productionRecord
        let days = try await dayRows
        let verdicts = try await verdictRows
        let backlog = try await backlogCount

        var values: [String: Any] = [
            "windowDays": DashboardWindow.days,
            "backlog": backlog >= DashboardWindow.backlogCap ? "\(backlog)+" : "\(backlog)",
            "reviewedToday": try await reviewedToday.everyone,
            "hasPredictions": !days.isEmpty,
            "hasVerdicts": !verdicts.isEmpty,
        ]
        if let production {
            var adapter: [String: Any] = ["version": production.version, "since": production.promotedAt.map(iso8601) ?? iso8601(production.createdAt)]
            if let deployment = try await latestDeployment.first, deployment.adapterVersion == production.version {
                adapter["how"] = Self.how(deployment)
            }
            let golden = try await goldenFigures(production)
            adapter["golden"] = golden.map { String(format: "%.1f %%", $0.accuracy * 100) } ?? "not measured"
            adapter["macroF1"] = golden.map { String(format: "%.3f", $0.macroF1) } ?? "not measured"
            if let golden { adapter["goldenSource"] = golden.source }
            values["production"] = adapter
        }
        if let shadow = try await serving.shadow { values["shadow"] = shadow }
        if !days.isEmpty {
            values["total"] = days.reduce(0) { $0 + $1.predictions }
            values["volumeChart"] = Self.volumeChart(days, since: since)
            values["confidenceChart"] = Self.confidenceChart(days)
            values["histogramChart"] = Self.histogramChart(days)
        }
        if !verdicts.isEmpty {
            values["verdictChart"] = Self.verdictChart(verdicts)
            values["verdicts"] = verdicts.map { v -> [String: Any] in
                let total = v.confirmed + v.corrected
                return ["intent": v.intent, "confirmed": v.confirmed, "corrected": v.corrected,
                        "rate": total == 0 ? "–" : String(format: "%.0f %%", Double(v.corrected) / Double(total) * 100)]
            }
        }
        return try pages.render("admin", title: "Admin", context: context, values: values, flash: request)
    }

    /// How a deployment put its adapter in production, in words.
    static func how(_ d: DeploymentRecord) -> String {
        switch d.action {
        case "first": "the first adapter, trained at first start"
        case "promote": "promoted by the gate"
        case "manual_promote": "promoted by \(d.actorName)"
        case "rollback": "rolled back to by \(d.actorName)"
        default: "\(d.action) by \(d.actorName)"
        }
    }

    /// The adapter's golden-set accuracy and macro-F1: from its training job's metrics, else
    /// computed from its stored golden outcomes (the first start's adapter has no metrics of its
    /// own; its children's jobs evaluate it). Nil when neither exists.
    func goldenFigures(_ adapter: AdapterRecord) async throws -> (accuracy: Double, macroF1: Double, source: String)? {
        if let accuracy = adapter.metrics["golden_accuracy"].flatMap(Double.init), let f1 = adapter.metrics["golden_macro_f1"].flatMap(Double.init) {
            let size = adapter.metrics["golden_size"].map { ", \($0) items" } ?? ""
            return (accuracy, f1, "when it was trained\(size)")
        }
        let outcomes = try await store.goldenOutcomes(version: adapter.version)
        guard !outcomes.isEmpty else { return nil }
        let report = ClassificationReport(labels: adapter.labels, truth: outcomes.map(\.label), predicted: outcomes.map(\.predicted))
        return (report.accuracy, report.macroF1, "from its stored golden-set outcomes, \(outcomes.count) items")
    }

    // MARK: Charts

    static let day = 86_400.0

    /// Predictions per day over the whole window (days without any drawn at zero).
    static func volumeChart(_ days: [DashboardDay], since: Date) -> String {
        let counts = Dictionary(days.map { ($0.day.timeIntervalSince1970, $0.predictions) }, uniquingKeysWith: +)
        let start = since.timeIntervalSince1970
        let points = (0..<DashboardWindow.days).map { i -> LineChart.Point in
            let x = start + Double(i) * day
            return LineChart.Point(x: x, y: Double(counts[x] ?? 0))
        }
        // From zero (a count), with headroom above the busiest day.
        let top = max(1, ((points.map(\.y).max() ?? 0) * 1.1).rounded(.up))
        return LineChart(title: "Predictions per day (UTC)", series: [.init(name: "predictions", points: points)],
                         xLabel: "day", yLabel: "predictions", yRange: 0...top, xTicks: .utcDays, yFormatter: { String(Int($0.rounded())) },
                         plotHeight: 180).svg()
    }

    /// Per day: the mean top-1 confidence and the share of predictions below 0.5.
    static func confidenceChart(_ days: [DashboardDay]) -> String {
        let lowBins = ConfidenceBins.edges.firstIndex(of: 0.5).map { $0 + 1 } ?? 5
        let mean = days.map { LineChart.Point(x: $0.day.timeIntervalSince1970, y: $0.meanConfidence) }
        let low = days.map { d in
            LineChart.Point(x: d.day.timeIntervalSince1970, y: Double(d.bins.prefix(lowBins).reduce(0, +)) / Double(max(d.predictions, 1)))
        }
        return LineChart(title: "Confidence per day (UTC)", series: [.init(name: "mean confidence", points: mean), .init(name: "share below 0.5", points: low)],
                         xLabel: "day", yLabel: "", yRange: 0...1, xTicks: .utcDays, yFormatter: LineChart.percentFormatter(),
                         plotHeight: 180).svg()
    }

    /// How many predictions of the window fell in each confidence bin.
    static func histogramChart(_ days: [DashboardDay]) -> String {
        var bins = [Int](repeating: 0, count: ConfidenceBins.edges.count + 1)
        for d in days { for (i, n) in d.bins.enumerated() where i < bins.count { bins[i] += n } }
        let total = max(bins.reduce(0, +), 1)
        let bars = zip(ConfidenceBins.labels, bins).map { label, n in
            BarChart.Bar(label: label, value: Double(n), detail: String(format: "%.1f %% of predictions", Double(n) / Double(total) * 100))
        }
        var chart = BarChart(title: "Predictions by confidence", bars: bars, valueFormat: .fixed(0), minimumExtent: 1)
        chart.oneSided = true
        return chart.svg()
    }

    /// Two rows per intent: confirmations to the right, corrections to the left.
    static func verdictChart(_ verdicts: [IntentVerdicts]) -> String {
        let bars = verdicts.flatMap { v -> [BarChart.Bar] in
            let detail = "\(v.confirmed) confirmed, \(v.corrected) corrected"
            return [BarChart.Bar(label: "\(v.intent) confirmed", value: Double(v.confirmed), detail: detail),
                    BarChart.Bar(label: "\(v.intent) corrected", value: -Double(v.corrected), detail: detail)]
        }
        return BarChart(title: "Verdicts per predicted intent: confirmed (right) and corrected (left)", bars: bars, valueFormat: .fixed(0),
                        minimumExtent: 1).svg()
    }
}
