import Foundation
import IntentStore

/// Runs CPU-heavy test work (real model forward passes, training loops, finite-difference
/// gradient checks, big matrix products, first touches of lazily loaded models) on a dedicated
/// Foundation `Thread` (8 MB stack) and awaits its result.
///
/// `swift test` runs every test target in one process, in parallel, on Swift's cooperative
/// thread pool, which has one thread per core (two on the CI machine). A test that computes for
/// seconds directly in its body blocks one of those threads for seconds, and the timing-sensitive
/// server tests ("/readyz answers within 1 s", hostile input "< 200 ms") starve and fail. The
/// project's rule — CPU-heavy work never runs on the cooperative thread pool — holds for the tests
/// too.
///
/// At most as many of these works as there are cores compute at once; the others wait for a slot
/// on their own threads, never on the cooperative pool. Without the limit a dozen heavy tests
/// starting together share the cores with the pool's threads, and the OS's time slicing delays
/// the pool by up to a few hundred milliseconds (measured on two cores: a 10 ms sleep on the pool
/// woke up to 0.3 s late, p99 12 ms; with the limit 0.14 s once at start-up, p99 4 ms).
///
/// Return plain values (arrays, numbers, Sendable structs) and keep `#expect` / `#require` in the
/// test body: Swift Testing finds the current test through a task-local value, which a foreign
/// thread does not inherit, so an expectation failing inside `work` might not be attributed to
/// the test. Errors thrown by `work` are rethrown here, in the test's context.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await onDedicatedThread(name: "test-cpu") {
        offPoolSlots.wait()
        defer { offPoolSlots.signal() }
        return try work()
    }
}

/// The slots of `offPool`: one per core.
private let offPoolSlots = DispatchSemaphore(value: max(1, ProcessInfo.processInfo.activeProcessorCount))
