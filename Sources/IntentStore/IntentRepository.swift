import Foundation
import PostgresNIO

public struct IntentRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable { case active, proposed, rejected, retired }
    public let name: String
    public let status: Status
    public let description: String
    public let examples: Int
}

extension Store {
    /// Intents by name; proposed and rejected ones only when asked.
    public func intents(includeProposed: Bool = false) async throws -> [IntentRecord] {
        let rows = try await self.query("""
            SELECT i.name, i.status, i.description, (SELECT count(*) FROM examples e WHERE e.intent = i.name AND e.kind = 'training')
            FROM intents i WHERE i.status = 'active' OR \(includeProposed) ORDER BY i.name
            """)
        var out: [IntentRecord] = []
        for try await (name, status, description, count) in rows.decode((String, String, String, Int64).self) {
            out.append(IntentRecord(name: name, status: .init(rawValue: status) ?? .active, description: description, examples: Int(count)))
        }
        return out
    }

    /// The status of one intent, or nil when unknown.
    public func intentStatus(_ name: String, on connection: PostgresConnection? = nil) async throws -> IntentRecord.Status? {
        let query: PostgresQuery = "SELECT status FROM intents WHERE name = \(name)"
        let rows = if let connection { try await connection.query(query, logger: logger) } else { try await self.query(query) }
        for try await status in rows.decode(String.self) { return IntentRecord.Status(rawValue: status) }
        return nil
    }

    static func validIntentName(_ name: String) -> Bool { InputRules.validIntentName(name) }

    /// An agent proposes a new intent: it waits for an admin's approval before it enters the
    /// taxonomy. The proposal and its audit row are one transaction (`connection`'s, when given).
    public func proposeIntent(_ name: String, by userID: Int64, description: String = "", on connection: PostgresConnection? = nil) async throws {
        guard Self.validIntentName(name) else {
            throw StoreError(.invalid, "intent names are 1–100 letters, digits or _.:/-", field: "intent")
        }
        if let problem = InputRules.textProblem(description, required: false) { throw StoreError(.invalid, "description \(problem)", field: "description") }
        guard let connection else {
            return try await transaction { try await self.proposeIntent(name, by: userID, description: description, on: $0) }
        }
        let rows = try await connection.query("""
            INSERT INTO intents (name, status, description, proposed_by) VALUES (\(name), 'proposed', \(description), \(userID))
            ON CONFLICT (name) DO NOTHING RETURNING name
            """, logger: logger)
        var inserted = false
        for try await _ in rows { inserted = true }
        if inserted { try await audit(actor: userID, action: "intent.propose", subject: name, on: connection) }
    }

    /// An admin approves (the intent becomes active) or rejects a proposed intent, with its audit
    /// row in the same transaction.
    public func decideIntent(_ name: String, approve: Bool, by userID: Int64) async throws {
        let status = approve ? "active" : "rejected"
        try await transaction { connection in
            let rows = try await connection.query("""
                UPDATE intents SET status = \(status), decided_by = \(userID), decided_at = now()
                WHERE name = \(name) AND status = 'proposed' RETURNING name
                """, logger: self.logger)
            var updated = false
            for try await _ in rows { updated = true }
            guard updated else { throw StoreError(.notFound, "no proposed intent '\(name.prefix(100))'", field: "intent") }
            try await self.audit(actor: userID, action: approve ? "intent.approve" : "intent.reject", subject: name, on: connection)
        }
    }
}
