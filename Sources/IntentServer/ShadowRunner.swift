import Foundation
import IntentKernels
import IntentModel
import IntentStore
import Logging
import Prometheus

/// Runs the shadow adapter beside production, off the request path: after a request's
/// predictions are committed, a sample of them (the policy's rate) is handed here and the
/// request is answered at once. One background thread classifies them in small batches and
/// stores the results; when it falls behind, its bounded queue drops the excess (counted) rather
/// than take CPU from serving. It yields to serving twice over: it is SCHED_IDLE (runs only on a
/// core nothing else wants), and it starts a batch only while the predictor is idle — on a small
/// machine the two vCPUs are often hyper-threads of one core, where a shadow pass on the "idle"
/// sibling still slows a concurrent production pass (measured: p99 +22–52 % at rate 0.25 with
/// SCHED_IDLE alone; ops/bench/results/gate.md).
final class ShadowRunner: @unchecked Sendable {
    struct Item {
        let predictionID: UUID
        let text: String
    }

    let store: Store
    let metrics: ServerMetrics
    let logger: Logger
    let capacity: Int
    let maxBatch: Int
    /// All below guarded by `condition`.
    private let condition = NSCondition()
    private var model: ServingModel?
    private var rate = 0.0
    private var queue: [Item] = []
    private var running = true
    private var writesInFlight = 0

    /// Whether serving leaves the cores to background work now.
    let serverIdle: @Sendable () -> Bool

    init(store: Store, metrics: ServerMetrics, logger: Logger, capacity: Int = 1024, maxBatch: Int = 8,
         serverIdle: @escaping @Sendable () -> Bool = { true }) {
        self.serverIdle = serverIdle
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.capacity = capacity
        self.maxBatch = maxBatch
        let thread = Thread { [self] in self.loop() }
        thread.name = "intentloop.shadow"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The shadow adapter now (nil: no shadow) and the share of predictions it classifies.
    var current: (model: ServingModel?, rate: Double) {
        condition.lock()
        defer { condition.unlock() }
        return (model, rate)
    }

    func set(model: ServingModel?, rate: Double) {
        condition.lock()
        self.model = model
        self.rate = model == nil ? 0 : min(max(rate, 0), 1)
        if model == nil { queue.removeAll() }
        condition.unlock()
    }

    /// Offers committed predictions to the shadow: a sample is queued; never blocks.
    func offer(_ rows: [PredictionRecord]) {
        condition.lock()
        defer { condition.unlock() }
        guard running, model != nil, rate > 0 else { return }
        var dropped = 0
        for row in rows where rate >= 1 || Double.random(in: 0..<1) < rate {
            if queue.count >= capacity { dropped += 1 } else { queue.append(Item(predictionID: row.id, text: row.text)) }
        }
        if dropped > 0 { metrics.shadowDropped.increment(by: Int64(dropped)) }
        condition.signal()
    }

    func shutdown() {
        condition.lock()
        running = false
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func writeFinished() {
        condition.lock()
        writesInFlight -= 1
        condition.unlock()
    }

    private func loop() {
        lowerThreadPriority(by: 10)
        let workspace = EncoderWorkspace()
        while true {
            condition.lock()
            while (queue.isEmpty || model == nil) && running { condition.wait() }
            guard running, let serving = model else {
                condition.unlock()
                return
            }
            let batch = Array(queue.prefix(maxBatch))
            queue.removeFirst(batch.count)
            condition.unlock()
            // Wait for a gap in serving (a short batch then fits in it).
            while !serverIdle() { usleep(500) }
            let predictions = serving.classifier.predict(batch.map(\.text), topK: 1, batchSize: maxBatch, workspace: workspace)
            let rows = zip(batch, predictions).map {
                ShadowPrediction(predictionID: $0.predictionID, adapterVersion: serving.version, intent: $1.intent, confidence: $1.confidence)
            }
            write(rows)
        }
    }

    /// Stores a batch without waiting; at most a few writes in flight (beyond, the batch is dropped).
    private func write(_ rows: [ShadowPrediction]) {
        condition.lock()
        let busy = writesInFlight >= 4
        if !busy { writesInFlight += 1 }
        condition.unlock()
        guard !busy else {
            metrics.shadowDropped.increment(by: Int64(rows.count))
            return
        }
        Task { [self] in
            do {
                try await store.insertShadowPredictions(rows)
                metrics.shadowPredictions.increment(by: Int64(rows.count))
            } catch {
                metrics.shadowDropped.increment(by: Int64(rows.count))
                logger.debug("shadow predictions not stored", metadata: ["error": "\(String(reflecting: error))"])
            }
            self.writeFinished()
        }
    }
}
