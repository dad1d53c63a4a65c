/// An adapter's lifecycle: training → candidate → shadow → production → retired, plus rejected
/// and failed. Every move is an `AdapterEvent` with its reason; `AdapterStatus.apply` says where
/// it leads or why it is refused, and the repository writes only what `apply` allows.
///
///     training ──trained──► candidate ──passedOfflineGate──► shadow ──promoted──► production
///        │                     │  └──────────promoted (gate or admin)─────────────►  │  ▲
///   trainingFailed         rejected ◄──rejected (gate, superseded)── shadow          │  │
///        ▼                     │                               replaced/rolledBack ▼  │ restored
///      failed                  └──promoted (admin override)──►  production      retired ┘
public enum AdapterStatus: String, Sendable, Codable, CaseIterable {
    case training, candidate, shadow, production, retired, rejected, failed

    /// Who promotes: the gate (only a candidate or a shadow) or an admin (also a retired or a
    /// rejected adapter: the audited manual override).
    public enum Promoter: String, Sendable, Codable { case gate, admin }

    /// Where `event` takes an adapter in this status, with the reason to store; or why not.
    public func apply(_ event: AdapterEvent) -> Result<AdapterTransition, AdapterRefusal> {
        let next: AdapterStatus?
        switch (self, event) {
        case (.training, .trained): next = .candidate
        case (.training, .trainingFailed): next = .failed
        case (.candidate, .passedOfflineGate): next = .shadow
        case (.candidate, .rejected), (.shadow, .rejected): next = .rejected
        case (.candidate, .promoted), (.shadow, .promoted): next = .production
        case (.retired, .promoted(.admin, _)), (.rejected, .promoted(.admin, _)): next = .production
        case (.production, .replaced), (.production, .rolledBack): next = .retired
        case (.retired, .restored): next = .production
        default: next = nil
        }
        guard let next else { return .failure(AdapterRefusal(from: self, event: event)) }
        return .success(AdapterTransition(status: next, reason: event.reason))
    }
}

/// Something that happens to an adapter, with the reason kept beside its status.
public enum AdapterEvent: Sendable, Equatable {
    case trained(String)
    case trainingFailed(String)
    case passedOfflineGate(String)
    /// By the gate (not better, a regression), or superseded by a newer candidate.
    case rejected(String)
    case promoted(AdapterStatus.Promoter, String)
    /// The production adapter, when another one is promoted.
    case replaced(by: String)
    /// The production adapter, when an operator rolls back.
    case rolledBack(String)
    /// The adapter a rollback returns to.
    case restored(String)

    public var reason: String {
        switch self {
        case .trained(let r), .trainingFailed(let r), .passedOfflineGate(let r), .rejected(let r), .promoted(_, let r), .rolledBack(let r), .restored(let r):
            return r
        case .replaced(let version): return "replaced by \(version)"
        }
    }

    var name: String {
        switch self {
        case .trained: "trained"
        case .trainingFailed: "training failed"
        case .passedOfflineGate: "shadow"
        case .rejected: "reject"
        case .promoted(.gate, _): "promote"
        case .promoted(.admin, _): "promote (admin)"
        case .replaced: "replace"
        case .rolledBack: "roll back"
        case .restored: "restore"
        }
    }
}

public struct AdapterTransition: Sendable, Equatable {
    public let status: AdapterStatus
    public let reason: String
}

public struct AdapterRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public let from: AdapterStatus
    public let event: AdapterEvent
    public var description: String { "an adapter in \(from.rawValue) cannot \(event.name)" }
}
