import Foundation
import IntentStore
import Prometheus
import Synchronization

/// The server's Prometheus metrics, in a registry of its own (no process-wide bootstrap, so
/// tests can build many applications). Scraped at GET /metrics.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let predictions: Counter
    let batchSize: ValueHistogram
    let queueDepth: Gauge
    let writeBatch: ValueHistogram
    let feedback: Counter
    let inferenceCPU: Counter
    let databaseUp: Gauge
    let shadowPredictions: Counter
    let shadowDropped: Counter
    let adapterSwaps: Counter
    let adapterInSync: Gauge
    let shadowInSync: Gauge
    let predictionConfidence: ValueHistogram
    let reviewBacklog: Gauge
    private let intentCounters = Mutex<[IntentSeries: Counter]>([:])
    private let adapterInfo = Mutex<[AdapterRole: (version: String, gauge: Gauge)]>([:])
    private let backlog = Mutex<(refreshedAt: ContinuousClock.Instant?, inFlight: Task<Void, Never>?)>((nil, nil))

    /// The metrics of the request being handled (bound by `MetricsMiddleware`), for routes built
    /// without a reference to them: `ServerMetrics.current?.recordFeedback(…)`.
    @TaskLocal public static var current: ServerMetrics?

    /// Most (adapter version, intent) series of `intentloop_predictions_by_intent_total`; beyond
    /// it a new pair is counted as intent `otherIntent` (with its version). An adapter predicts
    /// only its own labels, so this is reached only after many adapters with many intents.
    static let maxIntentSeries = 1000
    /// Not a possible intent name (intent names cannot hold parentheses), so never confused with one.
    static let otherIntent = "(other)"

    public init() {
        predictions = registry.makeCounter(name: "intentloop_predictions_total", help: "Utterances classified")
        batchSize = registry.makeValueHistogram(name: "intentloop_predict_batch_size", buckets: [1, 2, 4, 8, 16, 32, 64, 128],
                                                help: "Texts per forward pass of the batching predictor")
        queueDepth = registry.makeGauge(name: "intentloop_predict_queue_depth", help: "Texts waiting for the predictor after a batch is taken")
        writeBatch = registry.makeValueHistogram(name: "intentloop_prediction_write_batch", buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
                                                 help: "Prediction rows per INSERT")
        feedback = registry.makeCounter(name: "intentloop_feedback_total", help: "Agent verdicts and submissions stored")
        inferenceCPU = registry.makeCounter(name: "intentloop_inference_cpu_seconds_total",
                                            help: "CPU time the predictor's threads spent in forward passes (thread CPU clock)")
        databaseUp = registry.makeGauge(name: "intentloop_database_up", help: "1 while the database answers its probe, 0 during an outage")
        databaseUp.set(Int64(1))
        shadowPredictions = registry.makeCounter(name: "intentloop_shadow_predictions_total", help: "Live predictions the shadow adapter also classified and stored")
        shadowDropped = registry.makeCounter(name: "intentloop_shadow_dropped_total",
                                             help: "Sampled predictions the shadow adapter skipped (its queue full, or storing failed)")
        adapterInSync = registry.makeGauge(name: "intentloop_adapter_in_sync",
                                           help: "1 while this replica serves the production adapter the database names, 0 while it cannot load it")
        adapterInSync.set(Int64(1))
        shadowInSync = registry.makeGauge(name: "intentloop_shadow_in_sync",
                                          help: "1 while this replica runs the shadow adapter the database names (or none when it names none)")
        shadowInSync.set(Int64(1))
        adapterSwaps = registry.makeCounter(name: "intentloop_adapter_swaps_total", help: "Production or shadow adapters loaded and switched to without a restart")
        predictionConfidence = registry.makeValueHistogram(name: "intentloop_prediction_confidence", buckets: ConfidenceBins.edges + [1],
                                                           help: "Top-1 probability of each served prediction")
        reviewBacklog = registry.makeGauge(name: "intentloop_review_backlog",
                                           help: "Unreviewed predictions of the last \(DashboardWindow.days) days (at most \(DashboardWindow.backlogCap) counted; refreshed on scrape, at most every 15 s)")
        for verdict in [Verdict.confirm, .correct, .submit] { _ = feedbackCounter(verdict) }
    }

    // MARK: Predictions, feedback, adapters

    struct IntentSeries: Hashable {
        let version: String
        let intent: String
    }

    /// Counts stored predictions by adapter version and intent, and their confidence.
    func recordPredictions(_ rows: [PredictionRecord]) {
        var counts: [IntentSeries: Int64] = [:]
        for row in rows {
            predictionConfidence.record(Double(row.confidence))
            counts[IntentSeries(version: row.adapterVersion, intent: row.intent), default: 0] += 1
        }
        for (series, n) in counts { intentCounter(series).increment(by: n) }
    }

    private func dropIntentSeries(of version: String) {
        intentCounters.withLock { counters in
            for (series, counter) in counters where series.version == version {
                registry.unregisterCounter(counter)
                counters[series] = nil
            }
        }
    }

    private func intentCounter(_ series: IntentSeries) -> Counter {
        intentCounters.withLock { counters in
            if let counter = counters[series] { return counter }
            let kept = counters.count < Self.maxIntentSeries ? series : IntentSeries(version: series.version, intent: Self.otherIntent)
            if let counter = counters[kept] { return counter }
            let counter = registry.makeCounter(
                descriptor: MetricNameDescriptor(metricName: "intentloop_predictions_by_intent", unitName: "total",
                                                 helpText: "Predictions served, by adapter version and predicted intent"),
                labels: [("adapter_version", kept.version), ("intent", kept.intent)])
            counters[kept] = counter
            return counter
        }
    }

    private func feedbackCounter(_ verdict: Verdict) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "intentloop_feedback_by_verdict", unitName: "total",
                                                              helpText: "Agent verdicts and submissions stored, by verdict"),
                             labels: [("verdict", verdict.rawValue)])
    }

    /// `count` verdicts of one kind stored (not replays): `intentloop_feedback_total` and
    /// `intentloop_feedback_by_verdict_total{verdict}`.
    public func recordFeedback(_ verdict: Verdict, count: Int = 1) {
        guard count > 0 else { return }
        feedback.increment(by: Int64(count))
        feedbackCounter(verdict).increment(by: Int64(count))
    }

    enum AdapterRole: String { case production, shadow }

    /// `intentloop_adapter_info{version, role} 1` for the adapter this replica serves (or shadows);
    /// the previous version's series is removed, and nil removes the role's series.
    func setAdapter(_ version: String?, role: AdapterRole) {
        adapterInfo.withLock { info in
            if info[role]?.version == version { return }
            if let old = info.removeValue(forKey: role) {
                registry.unregisterGauge(old.gauge)
                // A replaced production adapter's per-intent series go with it, so that the
                // series cap keeps room for the versions served now.
                if role == .production { dropIntentSeries(of: old.version) }
            }
            guard let version else { return }
            let gauge = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "intentloop_adapter", unitName: "info",
                                                                            helpText: "1 for the adapter version this replica serves (production) or shadows"),
                                           labels: [("version", version), ("role", role.rawValue)])
            gauge.set(Int64(1))
            info[role] = (version, gauge)
        }
    }

    // MARK: Review backlog

    /// Refreshes `intentloop_review_backlog` with `read` when the value is older than `maxAge`,
    /// waiting at most `wait` for it. A read still running after that goes on in the background
    /// (the next scrape shows its value) and no second one starts meanwhile, so a scrape never
    /// hangs on a slow or unreachable database and never stacks up queries; a failed read keeps
    /// the last value (`intentloop_database_up` tells an outage).
    public func refreshReviewBacklog(maxAge: Duration = .seconds(15), wait: Duration = .milliseconds(500),
                                     _ read: @escaping @Sendable () async throws -> Int) async {
        let running: Task<Void, Never>? = backlog.withLock { state in
            if let task = state.inFlight { return task }
            if let at = state.refreshedAt, at.duration(to: .now) < maxAge { return nil }
            let task = Task { [self] in
                if let n = try? await read() { reviewBacklog.set(Int64(n)) }
                backlog.withLock { $0 = (ContinuousClock.now, nil) }
            }
            state.inFlight = task
            return task
        }
        guard let running else { return }
        _ = try? await race(limit: wait) { await running.value }
    }

    /// Request counter and latency histogram of one route and status.
    func recordRequest(method: String, route: String, status: Int, seconds: Double) {
        let labels = [("method", method), ("route", route), ("status", "\(status)")]
        registry.makeCounter(name: "intentloop_http_requests_total", labels: labels, help: "HTTP requests").increment()
        registry.makeDurationHistogram(
            name: "intentloop_http_request_duration_seconds", labels: [("method", method), ("route", route)],
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)],
            help: "HTTP request latency"
        ).recordSeconds(seconds)
    }

    /// Database availability as the monitor sees it (`intentloop_database_up`).
    public func setDatabaseUp(_ up: Bool) { databaseUp.set(Int64(up ? 1 : 0)) }

    public func render() -> [UInt8] { registry.emitToBuffer() }
}

extension DurationHistogram {
    func recordSeconds(_ seconds: Double) { record(.nanoseconds(Int64(seconds * 1e9))) }
}
