import Synchronization
import IntentStore

/// Shared between a running job's training thread and its heartbeat: the latest progress, and
/// whether (and why) training should stop.
final class JobControl: Sendable {
    enum Stop: Sendable, Equatable {
        /// Someone cancelled the job.
        case cancelled
        /// The lease is not ours any more (expired and re-queued): stop without finishing.
        case lost
        /// The worker is shutting down: give the job back for another attempt.
        case shutdown
    }

    private struct State {
        var progress = JobProgress(phase: "starting")
        var stop: Stop?
        var finished = false
    }
    private let state = Mutex(State())

    var progress: JobProgress { state.withLock { $0.progress } }
    var stop: Stop? { state.withLock { $0.stop } }
    var finished: Bool { state.withLock { $0.finished } }

    func setProgress(_ p: JobProgress) { state.withLock { $0.progress = p } }
    func request(_ stop: Stop) { state.withLock { if $0.stop == nil { $0.stop = stop } } }
    func finish() { state.withLock { $0.finished = true } }

    /// For the trainer's `shouldStop`: the reason, once a stop is requested.
    func stopReason() -> String? {
        switch stop {
        case .cancelled?: "the job was cancelled"
        case .lost?: "the job's lease was lost"
        case .shutdown?: "the worker is shutting down"
        case nil: nil
        }
    }
}
