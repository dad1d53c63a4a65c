/// out[i] = a[i] + b[i]; out may alias a or b.
public func residualForward(
    _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int
) {
    for i in 0..<n { out[i] = a[i] + b[i] }
}
