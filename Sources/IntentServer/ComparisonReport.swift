import Foundation
import IntentStore
import LoopCore
import SVGCharts

/// Everything the comparison page, `GET /v1/models/compare` and `intentloop models compare`
/// show about two adapters: the paired statistics (`ModelComparison`), shadow agreement over
/// time, live utterances where they disagreed with what agents said, and the gate's decision.
public struct ComparisonReport: Sendable, Codable {
    public struct AgreementPoint: Sendable, Codable {
        public let hour: Date
        public let predictions: Int
        public let agreements: Int
        public var rate: Double { predictions == 0 ? 0 : Double(agreements) / Double(predictions) }
    }
    public let a: AdapterSummary
    public let b: AdapterSummary
    public let comparison: ModelComparison
    public let agreement: [AgreementPoint]
    public let disagreements: [ShadowDisagreement]
    /// The gate's latest report on b (or on a, when only a has one).
    public let gate: GateReport?

    public struct AdapterSummary: Sendable, Codable {
        public let version: String
        public let status: String
        public let statusReason: String
        public let parentVersion: String?
        enum CodingKeys: String, CodingKey {
            case version, status
            case statusReason = "status_reason", parentVersion = "parent_version"
        }
        init(_ r: AdapterRecord) {
            version = r.version
            status = r.status.rawValue
            statusReason = r.statusReason
            parentVersion = r.parentVersion
        }
    }

    /// Compares `b` against `a`; nil for either means production (a) or the newest shadow or
    /// candidate (b). Throws `notFound` naming the field of an unknown version.
    public static func build(store: Store, a: String?, b: String?) async throws -> ComparisonReport {
        let recordA = try await resolve(store: store, a, field: "a") { try await store.productionAdapter() }
        let recordB = try await resolve(store: store, b, field: "b") {
            if let waiting = try await store.adapters(statuses: [.shadow, .candidate]).first(where: { $0.version != recordA.version }) { return waiting }
            return try await store.adapters().first { $0.version != recordA.version && $0.sha256 != nil }
        }
        guard recordA.version != recordB.version else {
            throw StoreError(.invalid, "a and b name the same adapter (\(recordA.version)): name two", field: "b")
        }
        let policy = try await store.gatePolicy()
        let paired = try await store.pairedOutcomes(candidate: recordB.version, baseline: recordA.version)
        let live = try await store.shadowEvidence(candidate: recordB.version, baseline: recordA.version)
        let reverse = try await store.shadowEvidence(candidate: recordA.version, baseline: recordB.version)
        // Live items where a shadowed b: swap so that candidate is always b.
        let shadow = live.labelled + reverse.labelled.map { PairedItem(label: $0.label, candidate: $0.baseline, baseline: $0.candidate) }
        // Bootstrap intervals over thousands of items: CPU work, off the cooperative pool.
        let comparison = try await onDedicatedThread(name: "intentloop.compare") {
            ModelComparison(a: recordA.version, b: recordB.version, evaluationPool: paired[.evaluationPool] ?? [],
                            golden: paired[.golden] ?? [], shadow: shadow, confidence: 1 - policy.significanceLevel,
                            resamples: policy.bootstrapResamples)
        }
        let series = try await store.shadowAgreementSeries(recordA.version, recordB.version)
        return ComparisonReport(a: AdapterSummary(recordA), b: AdapterSummary(recordB), comparison: comparison,
                                agreement: series.map { AgreementPoint(hour: $0.hour, predictions: $0.predictions, agreements: $0.agreements) },
                                disagreements: try await store.shadowDisagreements(recordA.version, recordB.version, limit: 50),
                                gate: recordB.gateReport ?? recordA.gateReport)
    }

    static func resolve(store: Store, _ version: String?, field: String, default fallback: () async throws -> AdapterRecord?) async throws -> AdapterRecord {
        if let version {
            guard InputRules.textProblem(version, maxScalars: 200) == nil else {
                throw StoreError(.invalid, "\(field) is not an adapter version", field: field)
            }
            guard let found = try await store.adapter(version: version) else { throw StoreError(.notFound, "no adapter \(version)", field: field) }
            return found
        }
        guard let found = try await fallback() else { throw StoreError(.notFound, "no adapter to compare: name one with ?\(field)=VERSION", field: field) }
        return found
    }

    /// Per-intent F1 change b − a, one bar per intent.
    public func intentChart() -> String {
        BarChart(title: "F1 change per intent, \(b.version) − \(a.version)",
                 bars: comparison.intents.map { .init(label: $0.intent, value: $0.delta,
                                                      detail: String(format: "F1 %.3f → %.3f, %d items", $0.f1A, $0.f1B, $0.support)) },
                 fixedExtent: nil).svg()
    }

    /// At most eight of the hours with data, evenly spread (ticks on whole hours only).
    func hourTicks() -> [Double] {
        let hours = agreement.map { $0.hour.timeIntervalSince1970 }
        guard hours.count > 8 else { return hours }
        let step = Double(hours.count - 1) / 7
        return (0..<8).map { hours[Int((Double($0) * step).rounded())] }
    }

    /// Shadow agreement rate per hour.
    public func agreementChart() -> String {
        LineChart(title: "Shadow agreement with production per hour",
                  series: [.init(name: "agreement", points: agreement.map { .init(x: $0.hour.timeIntervalSince1970, y: $0.rate) })],
                  xLabel: "hour (UTC)", yLabel: "agreement", yRange: 0...1, xTicks: .values(hourTicks()),
                  xFormatter: { hourLabel($0) }, yFormatter: LineChart.percentFormatter()).svg()
    }
}

/// "MM-dd HH:mm" in UTC, for the hourly axis.
func hourLabel(_ secondsSince1970: Double) -> String {
    guard secondsSince1970.isFinite, abs(secondsSince1970) < 1e12 else { return "" }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let c = calendar.dateComponents([.month, .day, .hour, .minute], from: Date(timeIntervalSince1970: secondsSince1970))
    return String(format: "%02d-%02d %02d:%02d", c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
}
