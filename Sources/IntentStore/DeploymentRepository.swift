import Foundation
import LoopCore
import Logging
import PostgresNIO

/// One change of the production adapter: who, when, why, and the gate's report.
public struct DeploymentRecord: Sendable, Codable, Equatable {
    public let id: Int64
    /// `first` (trained at first start), `promote` (the gate), `manual_promote` (an admin), `rollback`.
    public let action: String
    public let adapterVersion: String
    public let previousVersion: String?
    public let actorName: String
    public let reason: String
    public let createdAt: Date
    enum CodingKeys: String, CodingKey {
        case id, action, reason
        case adapterVersion = "adapter_version", previousVersion = "previous_version", actorName = "actor_name", createdAt = "created_at"
    }
}

/// Who acts on an adapter: the gate (no user) or a user, by id and name.
public struct AdapterActor: Sendable {
    public let id: Int64?
    public let name: String
    public static let gate = AdapterActor(id: nil, name: "gate")
    public init(id: Int64?, name: String) {
        self.id = id
        self.name = name
    }
}

extension Store {
    /// Moves one adapter along its lifecycle (`AdapterStatus.apply` decides), storing the gate's
    /// report when given; audited, and announced when a shadow starts or ends. Not for promotion:
    /// use `promote`, which also retires the production adapter and records the deployment.
    public func transitionAdapter(_ version: String, _ event: AdapterEvent, report: GateReport? = nil, actor: AdapterActor) async throws {
        let reportJSON = try report.map { try jsonText($0) }
        try await transaction { c in
            try await Self.lockAdapterChanges(on: c, logger: self.logger)
            let current = try await Self.lockedStatus(version, on: c, logger: self.logger)
            let t = try Self.move(current, event)
            precondition(t.status != .production, "promotion goes through promote(_:)")
            _ = try await c.query("""
                UPDATE adapters SET status = \(t.status.rawValue), status_reason = \(t.reason), gate_report = coalesce(\(reportJSON)::jsonb, gate_report),
                    shadow_since = CASE WHEN \(t.status.rawValue) = 'shadow' THEN now() ELSE shadow_since END, updated_at = now()
                WHERE version = \(version)
                """, logger: self.logger)
            try await self.audit(actor: actor.id, action: "adapter.\(t.status.rawValue)", subject: version, details: ["reason": t.reason, "by": actor.name], on: c)
            if current == .shadow || t.status == .shadow {
                _ = try await c.query("SELECT pg_notify(\(adapterChangesChannel), \("shadow " + version))", logger: self.logger)
            }
        }
    }

    /// Stores the gate's latest report for an adapter without moving it (a `wait` verdict).
    public func recordGateReport(_ version: String, _ report: GateReport) async throws {
        let json = try jsonText(report)
        try await query("UPDATE adapters SET gate_report = \(json)::jsonb, updated_at = now() WHERE version = \(version)")
    }

    /// Makes `version` the production adapter in one transaction: the current one is retired,
    /// the deployment (who, why, the report) recorded and audited, and every replica told.
    @discardableResult
    /// `replacing`: the production adapter the decision was made against (the gate's baseline); if
    /// production changed meanwhile (a rollback, another promotion), nothing happens (conflict).
    public func promote(_ version: String, by promoter: AdapterStatus.Promoter, actor: AdapterActor, reason: String,
                        report: GateReport? = nil, replacing expected: String? = nil) async throws -> DeploymentRecord {
        let reportJSON = try report.map { try jsonText($0) }
        return try await transaction { c in
            try await Self.lockAdapterChanges(on: c, logger: self.logger)
            let current = try await Self.lockedStatus(version, on: c, logger: self.logger)
            if current == .production { throw StoreError(.conflict, "\(version) is already the production adapter", field: "version") }
            if let expected, try await Self.production(on: c, logger: self.logger) != expected {
                throw StoreError(.conflict, "production is no longer \(expected): \(version) was judged against it", field: "version")
            }
            try await Self.requireStoredFiles(version, on: c, logger: self.logger)
            let t = try Self.move(current, .promoted(promoter, reason))
            let previous = try await Self.retireProduction(replacedBy: version, .replaced(by: version), on: c, logger: self.logger)
            _ = try await c.query("""
                UPDATE adapters SET status = 'production', status_reason = \(t.reason), promoted_at = now(),
                    gate_report = coalesce(\(reportJSON)::jsonb, gate_report), updated_at = now()
                WHERE version = \(version)
                """, logger: self.logger)
            let action = promoter == .gate ? "promote" : "manual_promote"
            return try await self.recordDeployment(action: action, version: version, previous: previous, actor: actor, reason: reason,
                                                   reportJSON: reportJSON, on: c)
        }
    }

    /// Returns production to the adapter the current one replaced when it was promoted (so a
    /// second rollback walks one step further back, not forth), or else the most recently retired
    /// one that served; the current one is retired.
    @discardableResult
    /// `from`: the production adapter the caller saw (a page's form sends it), so that a double
    /// submit or two admins at once roll back one step, not two.
    public func rollback(actor: AdapterActor, reason: String, from expected: String? = nil) async throws -> DeploymentRecord {
        try await transaction { c in
            try await Self.lockAdapterChanges(on: c, logger: self.logger)
            guard let current = try await Self.production(on: c, logger: self.logger) else {
                throw StoreError(.conflict, "there is no production adapter to roll back")
            }
            if let expected, expected != current {
                throw StoreError(.conflict, "production is \(current) now, not \(expected): it changed since you looked (rolled back already?)", field: "from")
            }
            // What the current adapter replaced when it was promoted (a rollback's own row does not count).
            var recorded = false
            var target: String?
            let fromHistory = try await c.query("""
                SELECT previous_version FROM deployments WHERE adapter_version = \(current) AND action <> 'rollback' ORDER BY id DESC LIMIT 1
                """, logger: self.logger)
            for try await v in fromHistory.decode(String?.self) {
                recorded = true
                target = v
            }
            if recorded && target == nil {
                throw StoreError(.conflict, "\(current) was the first production adapter: there is nothing earlier to roll back to")
            }
            if !recorded {
                // An adapter promoted before deployments were recorded: the most recently retired one that served.
                // Never one a rollback has already left.
                let retired = try await c.query("""
                    SELECT version FROM adapters a WHERE status = 'retired' AND promoted_at IS NOT NULL AND sha256 IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.action = 'rollback' AND d.previous_version = a.version)
                    ORDER BY promoted_at DESC, id DESC LIMIT 1
                    """, logger: self.logger)
                for try await v in retired.decode(String.self) { target = v }
            }
            guard let target else { throw StoreError(.conflict, "there is no earlier production adapter to roll back to") }
            let targetStatus = try await Self.lockedStatus(target, on: c, logger: self.logger)
            try await Self.requireStoredFiles(target, on: c, logger: self.logger)
            let t = try Self.move(targetStatus, .restored("restored by a rollback from \(current): \(reason)"))
            _ = try await Self.retireProduction(replacedBy: target, .rolledBack("rolled back to \(target) by \(actor.name): \(reason)"), on: c, logger: self.logger)
            _ = try await c.query("""
                UPDATE adapters SET status = 'production', status_reason = \(t.reason), promoted_at = now(), updated_at = now() WHERE version = \(target)
                """, logger: self.logger)
            return try await self.recordDeployment(action: "rollback", version: target, previous: current, actor: actor, reason: reason, reportJSON: nil, on: c)
        }
    }

    /// The deployment history, newest first.
    public func deployments(limit: Int = 100) async throws -> [DeploymentRecord] {
        let rows = try await query("""
            SELECT id, action, adapter_version, previous_version, actor_name, reason, created_at FROM deployments ORDER BY id DESC LIMIT \(limit)
            """)
        var out: [DeploymentRecord] = []
        for try await (id, action, v, p, who, reason, at) in rows.decode((Int64, String, String, String?, String, String, Date).self) {
            out.append(DeploymentRecord(id: id, action: action, adapterVersion: v, previousVersion: p, actorName: who, reason: reason, createdAt: at))
        }
        return out
    }

    /// The adapter in shadow now, if any.
    public func shadowAdapter() async throws -> AdapterRecord? {
        try await Self.decodeAdapters(try await query("SELECT \(unescaped: Self.adapterColumns) FROM adapters WHERE status = 'shadow'")).first
    }

    /// The versions serving and shadowing now (what replicas follow).
    public func servingVersions() async throws -> (production: String?, shadow: String?) {
        var production: String?, shadow: String?
        for try await (v, s) in try await query("SELECT version, status FROM adapters WHERE status IN ('production', 'shadow')").decode((String, String).self) {
            if s == "production" { production = v } else { shadow = v }
        }
        return (production, shadow)
    }

    /// An adapter's stored gate report.
    public func gateReport(version: String) async throws -> GateReport? {
        for try await text in try await query("SELECT gate_report::text FROM adapters WHERE version = \(version) AND gate_report IS NOT NULL").decode(String.self) {
            return try? JSONDecoder().decode(GateReport.self, from: Data(text.utf8))
        }
        return nil
    }

    /// pg_try_advisory_lock key of the gate ("ILgatekp"): one replica decides per tick.
    static let gateLockKey: Int64 = 0x494C_6761_7465_6B70

    /// Runs `body` if no other process holds the gate's lock (nil otherwise), holding it meanwhile.
    public func whileHoldingGateLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T? {
        try await withAdvisoryLock(Self.gateLockKey, wait: false, body)
    }

    /// pg_advisory_xact_lock key serializing every change of an adapter's status ("ILdeploy"):
    /// two promotions at once would otherwise both find the same production row to retire.
    static let adapterChangesLockKey: Int64 = 0x494C_6465_706C_6F79

    static func lockAdapterChanges(on c: PostgresConnection, logger: Logger) async throws {
        _ = try await c.query("SELECT pg_advisory_xact_lock(\(adapterChangesLockKey))", logger: logger)
    }

    static func production(on c: PostgresConnection, logger: Logger) async throws -> String? {
        for try await v in try await c.query("SELECT version FROM adapters WHERE status = 'production'", logger: logger).decode(String.self) { return v }
        return nil
    }

    /// Replicas load an adapter from its stored files: one without them cannot serve.
    static func requireStoredFiles(_ version: String, on c: PostgresConnection, logger: Logger) async throws {
        for try await stored in try await c.query("SELECT sha256 IS NOT NULL AND files <> '{}'::jsonb FROM adapters WHERE version = \(version)",
                                                  logger: logger).decode(Bool.self) where !stored {
            throw StoreError(.conflict, "\(version) has no files in the database, so replicas could not load it", field: "version")
        }
    }

    static func lockedStatus(_ version: String, on c: PostgresConnection, logger: Logger) async throws -> AdapterStatus {
        for try await s in try await c.query("SELECT status FROM adapters WHERE version = \(version) FOR UPDATE", logger: logger).decode(String.self) {
            if let status = AdapterStatus(rawValue: s) { return status }
        }
        throw StoreError(.notFound, "no adapter \(version)", field: "version")
    }

    static func move(_ status: AdapterStatus, _ event: AdapterEvent) throws -> AdapterTransition {
        switch status.apply(event) {
        case .success(let t): return t
        case .failure(let refusal): throw StoreError(.conflict, refusal.description, field: "version")
        }
    }

    /// Retires the production adapter (if any) with `event`; returns its version.
    static func retireProduction(replacedBy version: String, _ event: AdapterEvent, on c: PostgresConnection, logger: Logger) async throws -> String? {
        var previous: String?
        for try await v in try await c.query("SELECT version FROM adapters WHERE status = 'production' FOR UPDATE", logger: logger).decode(String.self) {
            previous = v
        }
        guard let previous else { return nil }
        let t = try move(.production, event)
        _ = try await c.query("""
            UPDATE adapters SET status = \(t.status.rawValue), status_reason = \(t.reason), updated_at = now() WHERE version = \(previous)
            """, logger: logger)
        return previous
    }

    func recordDeployment(action: String, version: String, previous: String?, actor: AdapterActor, reason: String, reportJSON: String?,
                          on c: PostgresConnection) async throws -> DeploymentRecord {
        var record: DeploymentRecord?
        let rows = try await c.query("""
            INSERT INTO deployments (action, adapter_version, previous_version, actor, actor_name, reason, report)
            VALUES (\(action), \(version), \(previous), \(actor.id), \(actor.name), \(reason), \(reportJSON)::jsonb)
            RETURNING id, created_at
            """, logger: logger)
        for try await (id, at) in rows.decode((Int64, Date).self) {
            record = DeploymentRecord(id: id, action: action, adapterVersion: version, previousVersion: previous, actorName: actor.name, reason: reason, createdAt: at)
        }
        try await audit(actor: actor.id, action: "adapter.\(action)", subject: version,
                        details: ["previous": previous ?? "", "reason": reason, "by": actor.name], on: c)
        _ = try await c.query("SELECT pg_notify(\(adapterChangesChannel), \("production " + version))", logger: logger)
        guard let record else { throw StoreError(.unavailable, "the deployment of \(version) was not recorded") }
        return record
    }
}
