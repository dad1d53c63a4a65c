/// Whether the database is usable, as a pure value: fed probe results, it answers whether
/// requests should be refused at once (503) and when a change is news.
/// `DatabaseMonitor` drives it; tests drive it as a table (like PostgresNIO's state machines).
public struct DatabaseAvailability: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Usable. `failures` consecutive probes have failed since the last success.
        case up(failures: Int)
        /// Unreachable since the given probe or request failure; requests are refused.
        case down
    }

    /// What a transition means for the caller.
    public enum Change: Sendable, Equatable { case none, wentDown, cameBack }

    public private(set) var state: State = .up(failures: 0)
    /// Consecutive failed probes that declare an outage (a single lost probe is not one).
    public let failuresToDown: Int

    public init(failuresToDown: Int = 2) {
        precondition(failuresToDown >= 1)
        self.failuresToDown = failuresToDown
    }

    public var isUp: Bool { if case .up = state { true } else { false } }

    /// A probe (`SELECT 1` within its deadline) answered.
    public mutating func probeSucceeded() -> Change {
        defer { state = .up(failures: 0) }
        return state == .down ? .cameBack : .none
    }

    /// A probe failed or timed out.
    public mutating func probeFailed() -> Change {
        switch state {
        case .down: return .none
        case .up(let failures):
            if failures + 1 >= failuresToDown {
                state = .down
                return .wentDown
            }
            state = .up(failures: failures + 1)
            return .none
        }
    }
}
