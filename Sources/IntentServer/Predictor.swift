import Dispatch
import Foundation
import IntentKernels
import IntentModel

/// The classifier the predictor serves and the version name stored with each prediction.
public struct ServingModel: Sendable {
    public let classifier: IntentClassifier
    public let version: String
    public init(classifier: IntentClassifier, version: String) {
        self.classifier = classifier
        self.version = version
    }
}

/// Micro-batching inference on dedicated threads (never the cooperative pool): requests are
/// queued; a free worker takes what is queued (waiting up to `maxWait` for company) and runs up
/// to `maxBatch` texts through the encoder in one forward pass. Run the workers with
/// single-threaded BLAS (`setBLASThreads(1)`): one worker per core keeps every core on the model
/// under load, without the spinning that multi-threaded BLAS does between the small matrix
/// products of a short batch, which starves the HTTP and database work on a small machine.
public final class Predictor: @unchecked Sendable {
    public struct Result: Sendable {
        public let predictions: [Prediction]
        public let version: String
        /// Seconds each request waited in the queue before its batch started.
        public let queueSeconds: Double
        public let batchSize: Int
    }
    struct Pending {
        let texts: [String]
        let enqueued: DispatchTime
        let continuation: CheckedContinuation<Result, any Error>
    }

    public let maxBatch: Int
    public let maxWait: Duration
    public let topK: Int
    /// All below guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var queuedTexts = 0
    private var model: ServingModel
    private var running = true
    /// Workers in a forward pass now.
    private var active = 0
    private var threads: [Thread] = []
    /// Observers (metrics): batch size and queue depth after each batch is taken; the batch's
    /// CPU seconds on its worker thread after its forward pass.
    private let onBatch: @Sendable (_ texts: Int, _ queueDepth: Int) -> Void
    private let onInference: @Sendable (_ cpuSeconds: Double) -> Void

    public init(model: ServingModel, workers: Int = 1, maxBatch: Int = 32, maxWait: Duration = .zero, topK: Int = 5,
                onBatch: @escaping @Sendable (Int, Int) -> Void = { _, _ in }, onInference: @escaping @Sendable (Double) -> Void = { _ in }) {
        precondition(maxBatch >= 1 && workers >= 1, "maxBatch and workers must be at least 1")
        self.model = model
        self.maxBatch = maxBatch
        self.maxWait = maxWait
        self.topK = topK
        self.onBatch = onBatch
        self.onInference = onInference
        for w in 0..<workers {
            let thread = Thread { [unowned self] in self.loop() }
            thread.name = "intentloop.predictor.\(w)"
            thread.stackSize = 8 << 20
            threads.append(thread)
        }
        for thread in threads { thread.start() }
    }

    /// The model being served now.
    public var current: ServingModel {
        condition.lock()
        defer { condition.unlock() }
        return model
    }

    /// Switches the served model between batches: no request is dropped or restarted.
    public func swap(to newModel: ServingModel) {
        condition.lock()
        model = newModel
        condition.unlock()
    }

    /// Nothing queued and no forward pass running: background work (the shadow) may use the cores.
    public var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return queue.isEmpty && active == 0
    }

    public var queueDepth: Int {
        condition.lock()
        defer { condition.unlock() }
        return queuedTexts
    }

    /// Classifies `texts` (one request: they stay together in one batch when they fit).
    public func predict(_ texts: [String]) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            guard running else {
                condition.unlock()
                continuation.resume(throwing: CancellationError())
                return
            }
            queue.append(Pending(texts: texts, enqueued: .now(), continuation: continuation))
            queuedTexts += texts.count
            condition.signal()
            condition.unlock()
        }
    }

    /// Stops the workers after the queued requests are answered.
    public func shutdown() {
        condition.lock()
        running = false
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        let workspace = EncoderWorkspace()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let waitNanos = Double(maxWait.components.attoseconds) / 1e9 + Double(maxWait.components.seconds) * 1e9
        while true {
            condition.lock()
            while queue.isEmpty && running { condition.wait() }
            if queue.isEmpty && !running {
                condition.unlock()
                return
            }
            let deadline = Date().addingTimeInterval(waitNanos / 1e9)
            while queuedTexts < maxBatch && running && Date() < deadline { _ = condition.wait(until: deadline) }
            var taken: [Pending] = []
            var count = 0
            while let first = queue.first, taken.isEmpty || count + first.texts.count <= maxBatch {
                taken.append(queue.removeFirst())
                count += first.texts.count
            }
            queuedTexts -= count
            let depth = queuedTexts
            let serving = model
            active += 1
            // A batch alone in the predictor (nothing queued, no other forward pass) may use every
            // core through Dispatch's workers: a lone utterance answers in about half the time.
            // Not once background training has lowered some of those workers to idle priority
            // (the batch would wait on them), and never under load: each worker keeps to one core.
            // (`onInference` then counts only this thread's share of the CPU.)
            let threads = queue.isEmpty && active == 1 && !dispatchWorkersMayBeLowered ? cores : 1
            condition.unlock()
            onBatch(count, depth)
            let started = DispatchTime.now()
            let cpuBefore = threadCPUSeconds()
            let predictions = serving.classifier.predict(taken.flatMap(\.texts), topK: topK, batchSize: max(maxBatch, count), workspace: workspace,
                                                         threads: threads)
            onInference(threadCPUSeconds() - cpuBefore)
            condition.lock()
            active -= 1
            condition.unlock()
            var offset = 0
            for p in taken {
                let waited = Double(started.uptimeNanoseconds - p.enqueued.uptimeNanoseconds) / 1e9
                p.continuation.resume(returning: Result(predictions: Array(predictions[offset..<(offset + p.texts.count)]), version: serving.version,
                                                        queueSeconds: waited, batchSize: count))
                offset += p.texts.count
            }
        }
    }
}

/// CPU time consumed by the calling thread so far.
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
