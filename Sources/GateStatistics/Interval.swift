/// A point estimate with a confidence interval [lower, upper].
public struct Interval: Sendable, Codable, Equatable {
    public let estimate: Double
    public let lower: Double
    public let upper: Double

    public init(estimate: Double, lower: Double, upper: Double) {
        self.estimate = estimate
        self.lower = lower
        self.upper = upper
    }

    /// upper − lower.
    public var width: Double { upper - lower }

    /// Whether `value` lies in [lower, upper].
    public func contains(_ value: Double) -> Bool { lower <= value && value <= upper }
}
