/// SplitMix64 (Steele, Lea & Flood 2014; the reference code is Vigna's `splitmix64.c`): a small,
/// fast generator whose whole state is one UInt64, so a seed fixes every draw.
///
/// Written here because Swift's `SystemRandomNumberGenerator` cannot be seeded, and the gate's
/// bootstrap intervals must be reproducible (the same seed gives the same interval on any machine
/// and toolchain). Not cryptographic. The same algorithm as `IntentKernels.SplitMix64`, kept
/// separate so this target has no dependencies.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in 0..<bound, by Lemire's multiply-and-reject method ("Fast random integer
    /// generation in an interval", 2019). Spelled out rather than `Int.random(in:using:)` so that the
    /// draws, and with them every bootstrap interval, do not depend on the standard library's choice
    /// of algorithm.
    @inline(__always)
    public mutating func index(below bound: Int) -> Int {
        let n = UInt64(truncatingIfNeeded: bound)
        var m = next().multipliedFullWidth(by: n)
        if m.low < n {
            let threshold = (0 &- n) % n
            while m.low < threshold { m = next().multipliedFullWidth(by: n) }
        }
        return Int(truncatingIfNeeded: m.high)
    }

    /// A uniform double in [0, 1): the top 53 bits of one draw.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Fisher–Yates with `index(below:)`, so a seed fixes the order on any toolchain.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, index(below: i + 1)) }
    }
}
