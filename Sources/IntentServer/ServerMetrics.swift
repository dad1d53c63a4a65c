import Prometheus

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
