/// One owned allocation of Floats (llm.c's parameter/activation block): views are pointers into
/// it, zeroing is one fill, and it is freed in `deinit`. Not thread-safe: one owner at a time.
public final class FloatBuffer: @unchecked Sendable {
    public private(set) var pointer: UnsafeMutablePointer<Float>
    public private(set) var count: Int

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer: negative count")
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    /// Grows to at least `count` Floats (contents are not kept); never shrinks.
    public func reserve(_ needed: Int) {
        guard needed > count else { return }
        pointer.deallocate()
        count = needed
        pointer = .allocate(capacity: needed)
        pointer.initialize(repeating: 0, count: needed)
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    deinit { pointer.deallocate() }
}
