/// An adapter's lifecycle: training → candidate → (shadow → production → retired) | rejected |
/// failed; a retired adapter can return to production (rollback) and a candidate can be promoted
/// by an admin's override. The repository asks `transition` before writing a status.
public enum AdapterStatus: String, Sendable, Codable, CaseIterable {
    case training, candidate, shadow, production, retired, rejected, failed

    static let allowed: [AdapterStatus: Set<AdapterStatus>] = [
        .training: [.candidate, .failed],
        .candidate: [.shadow, .production, .rejected],
        .shadow: [.production, .rejected],
        .production: [.retired],
        .retired: [.production],
        .rejected: [],
        .failed: [],
    ]

    /// Nil when the move is allowed; otherwise why not.
    public func refusal(to next: AdapterStatus) -> String? {
        Self.allowed[self, default: []].contains(next) ? nil : "an adapter in \(rawValue) cannot become \(next.rawValue)"
    }
}
