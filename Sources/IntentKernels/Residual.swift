/// out[i] = a[i] + b[i]; out may alias a or b.
public func residualForward(
    _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int
) {
    for i in 0..<n { out[i] = a[i] + b[i] }
}

/// Residual with dropout on the branch (BERT's hidden dropout): out[i] = branch[i] · mask[i] + skip[i];
/// out may alias branch or skip. Backward: dskip = dout, dbranch = dout ∘ mask (`multiply`).
public func residualDropoutForward(
    _ out: UnsafeMutablePointer<Float>, branch: UnsafePointer<Float>, mask: UnsafePointer<Float>, skip: UnsafePointer<Float>, count n: Int
) {
    for i in 0..<n { out[i] = branch[i] * mask[i] + skip[i] }
}
