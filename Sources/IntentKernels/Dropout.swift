/// Inverted-dropout mask from a deterministic generator: mask[i] is 0 with probability p, else
/// 1/(1−p). p = 0 writes ones without drawing.
public func dropoutMask(_ mask: UnsafeMutablePointer<Float>, count n: Int, probability p: Float, generator: inout SplitMix64) {
    precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1)")
    guard p > 0 else {
        mask.update(repeating: 1, count: n)
        return
    }
    let keep = 1 / (1 - p)
    let threshold = UInt64(Double(p) * Double(UInt64.max))
    for i in 0..<n { mask[i] = generator.next() >= threshold ? keep : 0 }
}

/// Inverted dropout: draws `mask` (see `dropoutMask`) and writes out = inp ∘ mask.
/// The backward pass is dinp = dout ∘ mask (`multiplyAccumulate` or `multiply`).
public func dropoutForward(
    _ out: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    count n: Int, probability p: Float, generator: inout SplitMix64
) {
    dropoutMask(mask, count: n, probability: p, generator: &generator)
    multiply(out, inp, mask, count: n)
}

/// out[i] = a[i] · b[i]; out may alias a or b.
public func multiply(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) {
    for i in 0..<n { out[i] = a[i] * b[i] }
}
