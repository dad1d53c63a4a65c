import Foundation
import PostgresNIO

public struct IntentRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable { case active, proposed, rejected }
    public let name: String
    public let status: Status
    public let description: String
    public let examples: Int
}

extension Store {
    /// Intents by name; proposed and rejected ones only when asked.
    public func intents(includeProposed: Bool = false) async throws -> [IntentRecord] {
        let rows = try await client.query("""
            SELECT i.name, i.status, i.description, (SELECT count(*) FROM examples e WHERE e.intent = i.name AND e.kind = 'training')
            FROM intents i WHERE i.status = 'active' OR \(includeProposed) ORDER BY i.name
            """, logger: logger)
        var out: [IntentRecord] = []
        for try await (name, status, description, count) in rows.decode((String, String, String, Int64).self) {
            out.append(IntentRecord(name: name, status: .init(rawValue: status) ?? .active, description: description, examples: Int(count)))
        }
        return out
    }

    /// The status of one intent, or nil when unknown.
    public func intentStatus(_ name: String, on connection: PostgresConnection? = nil) async throws -> IntentRecord.Status? {
        let query: PostgresQuery = "SELECT status FROM intents WHERE name = \(name)"
        let rows = if let connection { try await connection.query(query, logger: logger) } else { try await client.query(query, logger: logger) }
        for try await status in rows.decode(String.self) { return IntentRecord.Status(rawValue: status) }
        return nil
    }

    static func validIntentName(_ name: String) -> Bool {
        name.range(of: "^[A-Za-z0-9_.:/-]{1,100}$", options: .regularExpression) != nil
    }

    /// An agent proposes a new intent: it waits for an admin's approval before it enters the taxonomy.
    public func proposeIntent(_ name: String, by userID: Int64, description: String = "") async throws {
        guard Self.validIntentName(name) else {
            throw StoreError(.invalid, "intent names are 1–100 letters, digits or _.:/-", field: "intent")
        }
        let rows = try await client.query("""
            INSERT INTO intents (name, status, description, proposed_by) VALUES (\(name), 'proposed', \(description), \(userID))
            ON CONFLICT (name) DO NOTHING RETURNING name
            """, logger: logger)
        var inserted = false
        for try await _ in rows { inserted = true }
        if inserted { try await audit(actor: userID, action: "intent.propose", subject: name) }
    }

    /// An admin approves (the intent becomes active) or rejects a proposed intent.
    public func decideIntent(_ name: String, approve: Bool, by userID: Int64) async throws {
        let status = approve ? "active" : "rejected"
        let rows = try await client.query("""
            UPDATE intents SET status = \(status), decided_by = \(userID), decided_at = now()
            WHERE name = \(name) AND status = 'proposed' RETURNING name
            """, logger: logger)
        var updated = false
        for try await _ in rows { updated = true }
        guard updated else { throw StoreError(.notFound, "no proposed intent '\(name)'", field: "intent") }
        try await audit(actor: userID, action: approve ? "intent.approve" : "intent.reject", subject: name)
    }
}
