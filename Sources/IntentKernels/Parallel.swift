import Dispatch

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
