import Synchronization

/// Thrown by `race` when the deadline passes or the abandon signal fires first.
public struct DeadlineExceeded: Error, Sendable {}

/// Runs `operation` and returns its result, or throws `DeadlineExceeded` after `limit`, or
/// when `abandon` (see `DatabaseMonitor.onOutage`) calls back first, or `CancellationError`
/// when the calling task is cancelled. Unlike a task group, it does not wait for an operation
/// that ignores cancellation (PostgresNIO's pool keeps a lease request waiting while it retries
/// connecting; a training thread cannot be interrupted): the operation is cancelled and left to
/// finish in the background, so the caller answers in time.
public func race<T: Sendable>(
    limit: Duration?, abandon: (@Sendable (@escaping @Sendable () -> Void) -> (@Sendable () -> Void))? = nil,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let state = RaceState<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            // Cancelled before it began: answered already, and the operation is not started.
            guard state.start(continuation) else { return }
            let work = Task {
                do { state.finish(.success(try await operation())) } catch { state.finish(.failure(error)) }
            }
            state.setWork(work)
            let timer = limit.map { limit in
                Task {
                    try await Task.sleep(for: limit)
                    state.finish(.failure(DeadlineExceeded()))
                }
            }
            let unregister = abandon? { state.finish(.failure(DeadlineExceeded())) }
            Task {
                _ = await work.result
                timer?.cancel()
                unregister?()
            }
        }
    } onCancel: {
        state.finish(.failure(CancellationError()))
    }
}

/// The one continuation of a `race`, resumed once by whichever outcome comes first; an outcome
/// other than the operation's own cancels the operation's task.
private final class RaceState<T: Sendable>: Sendable {
    private struct Inner {
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var pending: Result<T, any Error>?
        var done = false
    }

    private let inner = Mutex(Inner())

    /// Keeps the continuation; false (after resuming it) when the race was already decided.
    func start(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let early = inner.withLock { s -> Result<T, any Error>? in
            guard let pending = s.pending else {
                s.continuation = continuation
                return nil
            }
            return pending
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    func setWork(_ work: Task<Void, Never>) {
        let cancelNow = inner.withLock { s -> Bool in
            s.work = work
            return s.done
        }
        if cancelNow { work.cancel() }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, work) = inner.withLock { s -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?) in
            guard !s.done else { return (nil, nil) }
            s.done = true
            guard let c = s.continuation else {
                s.pending = result  // cancelled before the continuation existed
                return (nil, s.work)
            }
            s.continuation = nil
            return (c, s.work)
        }
        continuation?.resume(with: result)
        if case .success = result { return }
        work?.cancel()
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
