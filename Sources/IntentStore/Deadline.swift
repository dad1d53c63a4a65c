import Synchronization

/// Thrown by `race` when the deadline passes or the abandon signal fires first.
public struct DeadlineExceeded: Error, Sendable {}

/// Runs `operation` and returns its result, or throws `DeadlineExceeded` after `limit`, or
/// whatever `abandon` registers first (see `DatabaseMonitor.onOutage`). Unlike a task group,
/// it does not wait for an operation that ignores cancellation (PostgresNIO's pool keeps a
/// lease request waiting while it retries connecting): the operation is cancelled and left to
/// finish in the background, so the caller answers in time.
public func race<T: Sendable>(
    limit: Duration?, abandon: (@Sendable (@escaping @Sendable () -> Void) -> (@Sendable () -> Void))? = nil,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let once = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let finish: @Sendable (Result<T, any Error>) -> Bool = { result in
        guard let c = once.withLock({ c -> CheckedContinuation<T, any Error>? in defer { c = nil }; return c }) else { return false }
        c.resume(with: result)
        return true
    }
    return try await withCheckedThrowingContinuation { continuation in
        once.withLock { $0 = continuation }
        let work = Task {
            do { _ = finish(.success(try await operation())) } catch { _ = finish(.failure(error)) }
        }
        let timer = limit.map { limit in
            Task {
                try await Task.sleep(for: limit)
                if finish(.failure(DeadlineExceeded())) { work.cancel() }
            }
        }
        let unregister = abandon? { if finish(.failure(DeadlineExceeded())) { work.cancel() } }
        Task {
            _ = await work.result
            timer?.cancel()
            unregister?()
        }
    }
}
