import Foundation
import IntentModel
import IntentStore
import Logging
import LoopCore
import PostgresNIO
import ServiceLifecycle
import Training

/// How a worker takes and runs jobs.
public struct WorkerSettings: Sendable {
    /// Unique per process: host, process id and a random suffix.
    public var name = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\((0..<3).map { _ in UInt8.random(in: 0...255) }.hex)"
    /// A job whose worker sends no heartbeat for this long is re-queued by any other worker.
    public var lease: Duration = .seconds(60)
    public var heartbeat: Duration = .seconds(10)
    /// How often an idle worker looks for a job (and for expired leases).
    public var poll: Duration = .seconds(2)
    /// The recipe, training threads and their niceness.
    public var training: TrainingOptions = {
        var o = TrainingOptions()
        o.niceness = 10
        // Corrections train as labelled examples (cross-entropy), not also as DPO pairs: a job trains a
        // fresh adapter on everything (full replay), and there DPO with the production adapter as the
        // reference cost 3.4 points of CLINC150 test accuracy (90.02 % against 93.38 % with the same 900
        // reviews; 91.80 % without a reference): ops/bench/results/simulate-recipe.md. The pairs are
        // still assembled and counted; `--dpo-weight` turns the term back on.
        o.dpoWeight = 0
        return o
    }()
    /// Share of reviewed utterances kept for evaluation (never trained on), in percent.
    public var evaluationPercent = 20
    /// The arithmetic a job evaluates the candidate and its parent in (their outcomes are the
    /// gate's offline evidence): the replicas' serving precision, so the gate judges what is served.
    public var precision: Precision = .fp32
    public init() {}
}

/// Runs jobs from the PostgreSQL queue: claims one (`FOR UPDATE SKIP LOCKED`), renews its lease
/// with a heartbeat that also stores progress and hears cancellation, runs it off the cooperative
/// pool, and finishes it in the transaction that stores its result. Any number of workers, in any
/// number of processes on any number of machines, may share one database. A ServiceLifecycle
/// service: on graceful shutdown a running job is stopped and given back for another attempt.
public struct JobWorker: Service {
    let store: Store
    let base: BaseModel
    let cache: AdapterCache
    let settings: WorkerSettings
    let logger: Logger

    public init(store: Store, base: BaseModel, cache: AdapterCache, settings: WorkerSettings, logger: Logger) {
        self.store = store
        self.base = base
        self.cache = cache
        self.settings = settings
        var logger = logger
        logger[metadataKey: "worker"] = "\(settings.name)"
        self.logger = logger
    }

    public func run() async throws {
        logger.info("worker started", metadata: ["worker.threads": "\(settings.training.threads)"])
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if try await runOnce() { continue }
                try await Task.sleep(for: settings.poll)
            }
        }
        logger.info("worker stopped")
    }

    /// One pass: re-queue expired leases, then claim and run one job. True when a job ran.
    @discardableResult
    public func runOnce() async throws -> Bool {
        do {
            for reaped in try await store.reapExpiredLeases() {
                logger.warning("job lease expired", metadata: ["job.id": "\(reaped.id)", "job.status": "\(reaped.status.rawValue)", "reason": "\(reaped.reason)"])
            }
            guard let job = try await store.claimJob(worker: settings.name, kinds: ["train"], lease: settings.lease) else { return false }
            await execute(job)
            return true
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.warning("worker could not reach the queue", metadata: ["error": "\(error)"])
            return false
        }
    }

    enum Outcome: Sendable {
        /// The candidate, and what it and its parent predicted on each evaluation item (the gate's paired evidence).
        case succeeded(result: [String: String], adapter: NewAdapter, outcomes: [String: [AdapterOutcome]])
        case stopped(JobControl.Stop)
        case failed(String, retryable: Bool)
    }

    func execute(_ job: ClaimedJob) async {
        let jobLogger = {
            var l = logger
            l[metadataKey: "job.id"] = "\(job.id)"
            return l
        }()
        jobLogger.info("job started", metadata: ["job.kind": "\(job.kind)", "job.attempt": "\(job.attempt)"])
        let control = JobControl()
        let outcome: Outcome = await withTaskGroup(of: Void.self) { group in
            group.addTask { await heartbeats(job, control, jobLogger) }
            let training = TrainingJob(store: store, base: base, cache: cache, settings: settings, logger: jobLogger)
            let outcome = await withTaskCancellationHandler {
                await training.run(job, control)
            } onCancel: {
                control.request(.shutdown)
            }
            control.finish()
            group.cancelAll()
            return outcome
        }
        // Finished outside the (possibly cancelled) task: a shutdown still records the outcome.
        let finishing = Task { [store, worker = settings.name] () -> Bool in
            switch outcome {
            case .succeeded(let result, let adapter, let outcomes):
                return try await store.finishJob(job, worker: worker, event: .succeeded, result: result) { c in
                    try await store.storeAdapter(adapter, actor: nil, on: c)
                    for (version, rows) in outcomes.sorted(by: { $0.key < $1.key }) { try await store.storeOutcomes(rows, version: version, on: c) }
                }
            case .stopped(.cancelled):
                return try await store.finishJob(job, worker: worker, event: .cancelAcknowledged)
            case .stopped(.shutdown):
                return try await store.finishJob(job, worker: worker, event: .released)
            case .stopped(.lost):
                return false
            case .failed(let message, let retryable):
                return try await store.finishJob(job, worker: worker, event: .failed(message, retryable: retryable))
            }
        }
        do {
            let owned = try await finishing.value
            jobLogger.info("job finished", metadata: ["job.outcome": "\(Self.describe(outcome))", "job.recorded": "\(owned)"])
        } catch {
            // The lease runs out and another worker re-queues the job.
            jobLogger.error("job outcome not recorded", metadata: ["job.outcome": "\(Self.describe(outcome))", "error": "\(error)"])
        }
    }

    static func describe(_ outcome: Outcome) -> String {
        switch outcome {
        case .succeeded(let result, _, _): "succeeded: \(result["adapter_version"] ?? "")"
        case .stopped(let stop): "stopped: \(stop)"
        case .failed(let message, let retryable): "failed\(retryable ? " (retryable)" : ""): \(message)"
        }
    }

    /// Renews the lease and stores progress until the job finishes; hears cancellation; stops
    /// the job when the lease cannot have survived (no successful heartbeat for a whole lease).
    func heartbeats(_ job: ClaimedJob, _ control: JobControl, _ logger: Logger) async {
        var lastSuccess = ContinuousClock.now
        while !control.finished && !Task.isCancelled {
            try? await Task.sleep(for: settings.heartbeat)
            if control.finished || Task.isCancelled { return }
            do {
                switch try await store.heartbeat(job, worker: settings.name, lease: settings.lease, progress: control.progress) {
                case .keepGoing: lastSuccess = .now
                case .cancel:
                    logger.info("job cancellation heard")
                    control.request(.cancelled)
                case .lost:
                    logger.warning("job lease lost")
                    control.request(.lost)
                }
            } catch {
                logger.warning("job heartbeat failed", metadata: ["error": "\(error)"])
                if ContinuousClock.now - lastSuccess > settings.lease { control.request(.lost) }
            }
        }
    }
}
