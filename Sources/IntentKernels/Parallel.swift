import CBLAS
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` over `0..<count` split into at most `threads` contiguous ranges, on Dispatch's
/// worker threads (never Swift's cooperative pool). Work smaller than `grain` items per thread
/// runs inline: a dispatch costs a few microseconds.
@inline(__always)
public func parallelRanges(_ count: Int, threads: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let workers = max(1, min(threads, count / max(grain, 1)))
    if workers <= 1 {
        body(0..<count)
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UnsafeSendableBox(body)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            box.value(count * w / workers..<count * (w + 1) / workers)
        }
    }
}

/// Carries a non-Sendable value into `concurrentPerform`, whose iterations touch disjoint data.
public struct UnsafeSendableBox<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// Puts the calling thread in the background (Linux: per thread): nice at least `nice`, and the
/// SCHED_IDLE policy, so that it runs only when its core has nothing else to run — training beside
/// the server yields a core to an inference thread at once instead of sharing it by weight (nice
/// 10 alone measured p99 3.1× idle at 100 predictions/s: results/serve_while_training.md). Once
/// lowered, a thread stays lowered. In the server, training and evaluation lower Dispatch's worker
/// threads; the predictor has threads of its own and spreads a lone batch over Dispatch's workers
/// only while none of them was lowered. A no-op for 0 and elsewhere than Linux.
/// `onDispatchWorker`: the caller is one of Dispatch's worker threads (inside `parallelRanges`),
/// which latency-critical work may also use: see `dispatchWorkersMayBeLowered`.
public func lowerThreadPriority(by nice: Int32, onDispatchWorker: Bool = false) {
    #if os(Linux)
    guard nice > 0 else { return }
    if onDispatchWorker { loweredLock.withLock { someThreadLowered = true } }
    let tid = id_t(intentloop_thread_id())
    if getpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid) < nice {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, nice)
    }
    _ = intentloop_thread_background()
    #endif
}

private let loweredLock = NSLock()
nonisolated(unsafe) private var someThreadLowered = false

/// Whether `lowerThreadPriority` has lowered one of Dispatch's worker threads in this process
/// (background training or evaluation ran here): Dispatch's worker threads may then run at idle priority, so latency-critical work
/// should not spread over them (`parallelRanges`) but stay on its own thread.
public var dispatchWorkersMayBeLowered: Bool { loweredLock.withLock { someThreadLowered } }
