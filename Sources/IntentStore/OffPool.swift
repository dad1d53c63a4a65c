import Foundation

/// Runs CPU-heavy work (training, model loading) on a thread of its own, never on the
/// cooperative pool, and awaits its result.
public func onDedicatedThread<T: Sendable>(name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }
}
