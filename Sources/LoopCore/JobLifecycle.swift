/// A job's lifecycle as a value: queued → running → succeeded | failed | cancelled, back to
/// queued when a lease expires or a retryable failure has attempts left; `skipped` is a scheduled
/// slot recorded with the reason it did not run. The job queue (IntentStore/JobRepository.swift)
/// reads a row, asks `apply` what an event does to it, and writes the answer; nothing here does I/O.
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled, skipped

    public var isFinished: Bool { self != .queued && self != .running }
}

public struct JobState: Sendable, Equatable {
    public var status: JobStatus
    public var attempts: Int
    public var maxAttempts: Int
    public var cancelRequested: Bool

    public init(status: JobStatus, attempts: Int, maxAttempts: Int, cancelRequested: Bool = false) {
        self.status = status
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.cancelRequested = cancelRequested
    }
}

public enum JobEvent: Sendable, Equatable {
    /// A worker claimed the queued job.
    case claimed
    /// The worker finished the work.
    case succeeded
    /// The work failed; `retryable` when another attempt could succeed (the database was away).
    case failed(String, retryable: Bool)
    /// The running job's lease passed without a heartbeat: its worker died or was cut off.
    case leaseExpired
    /// Someone asked to cancel it.
    case cancelRequested
    /// The worker stopped the running job because it was asked to.
    case cancelAcknowledged
    /// The worker is shutting down and gives the job back; the attempt does not count.
    case released
}

public enum JobTransition: Sendable, Equatable {
    /// Write this state; `retryAfterSeconds` delays the next claim of a re-queued job.
    case move(JobState, reason: String, retryAfterSeconds: Int = 0)
    /// The event does not apply to the job in its state (said why); nothing changes.
    case refuse(String)
}

extension JobState {
    /// Seconds before a re-queued job may be claimed again: 30 s, doubling per attempt, at most 10 min.
    public static func backoffSeconds(afterAttempt attempt: Int) -> Int { min(600, 30 << min(max(attempt - 1, 0), 5)) }

    public func apply(_ event: JobEvent) -> JobTransition {
        var next = self
        switch (status, event) {
        case (.queued, .claimed):
            guard !cancelRequested else { return .refuse("cancellation was requested") }
            next.status = .running
            next.attempts += 1
            return .move(next, reason: "attempt \(next.attempts) of \(maxAttempts)")
        case (.running, .succeeded):
            next.status = .succeeded
            return .move(next, reason: "succeeded on attempt \(attempts)")
        case (.running, .failed(let message, let retryable)):
            if cancelRequested {
                next.status = .cancelled
                return .move(next, reason: "cancelled (the attempt ended with: \(message))")
            }
            if retryable && attempts < maxAttempts {
                next.status = .queued
                return .move(next, reason: "attempt \(attempts) of \(maxAttempts) failed: \(message); retrying",
                             retryAfterSeconds: Self.backoffSeconds(afterAttempt: attempts))
            }
            next.status = .failed
            return .move(next, reason: retryable ? "failed on the last attempt (\(attempts) of \(maxAttempts)): \(message)" : message)
        case (.running, .leaseExpired):
            if cancelRequested {
                next.status = .cancelled
                return .move(next, reason: "cancelled (its worker stopped answering)")
            }
            if attempts < maxAttempts {
                next.status = .queued
                return .move(next, reason: "the worker's lease expired on attempt \(attempts) of \(maxAttempts); re-queued")
            }
            next.status = .failed
            return .move(next, reason: "the worker's lease expired on the last attempt (\(attempts) of \(maxAttempts))")
        case (.queued, .cancelRequested):
            next.status = .cancelled
            next.cancelRequested = true
            return .move(next, reason: "cancelled before it started")
        case (.running, .cancelRequested):
            guard !cancelRequested else { return .refuse("cancellation was already requested") }
            next.cancelRequested = true
            return .move(next, reason: "cancellation requested; the worker stops at its next heartbeat")
        case (.running, .released):
            if cancelRequested {
                next.status = .cancelled
                return .move(next, reason: "cancelled (its worker shut down)")
            }
            next.status = .queued
            next.attempts = max(0, attempts - 1)
            return .move(next, reason: "given back by a worker that shut down; the attempt does not count")
        case (.running, .cancelAcknowledged):
            next.status = .cancelled
            return .move(next, reason: "cancelled while running (attempt \(attempts))")
        case (let s, .cancelRequested) where s.isFinished:
            return .refuse("the job has already \(s == .skipped ? "been skipped" : s.rawValue)")
        default:
            return .refuse("\(event) does not apply to a \(status.rawValue) job")
        }
    }
}
