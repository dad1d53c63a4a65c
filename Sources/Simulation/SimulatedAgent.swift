import GateStatistics

/// One intent systematically relabelled as another by the agents (`--poison FROM:TO`).
public struct Poison: Sendable, Equatable, Codable, CustomStringConvertible {
    public let from: String
    public let to: String
    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }

    /// "FROM:TO", two different intent names.
    public init?(_ spec: String) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[0] != parts[1] else { return nil }
        self.init(from: String(parts[0]), to: String(parts[1]))
    }

    public var description: String { "\(from):\(to)" }
}

/// How simulated agents label what they review: the true intent, except with probability
/// `noise` a uniformly chosen wrong one, and always `poison.to` for `poison.from`.
public struct SimulatedAgent: Sendable, Equatable {
    public var noise: Double
    public var poison: Poison?
    public let intents: [String]

    public init(intents: [String], noise: Double = 0, poison: Poison? = nil) {
        precondition(noise >= 0 && noise <= 1, "noise is a probability")
        self.intents = intents
        self.noise = noise
        self.poison = poison
    }

    public func label(truth: String, rng: inout SplitMix64) -> String {
        if let poison, truth == poison.from { return poison.to }
        guard noise > 0, intents.count > 1, rng.unit() < noise else { return truth }
        let others = intents.filter { $0 != truth }
        return others[rng.index(below: others.count)]
    }
}

/// Which predictions the agents review each week.
public enum ReviewSelection: String, Sendable, Codable, CaseIterable {
    /// The review queue's order: shadow disagreements first, then the smallest top-1 margin.
    case uncertainty
    /// Uniformly among the predictions not yet reviewed (the baseline at the same budget).
    case random
}
