import Foundation
import PostgresNIO

public struct AdapterRecord: Sendable, Codable, Equatable {
    public let version: String
    public let path: String
    public let status: String
}

extension Store {
    /// Registers an adapter and makes it the production one (the previous one is retired), audited.
    public func promoteNewAdapter(version: String, path: String, labels: [String], metrics: [String: String], actor: Int64?) async throws {
        let labelsJSON = String(decoding: try JSONEncoder().encode(labels), as: UTF8.self)
        let metricsJSON = String(decoding: try JSONEncoder().encode(metrics), as: UTF8.self)
        try await transaction { c in
            try await c.query("UPDATE adapters SET status = 'retired' WHERE status = 'production'", logger: logger)
            try await c.query("""
                INSERT INTO adapters (version, path, status, labels, metrics, promoted_at)
                VALUES (\(version), \(path), 'production', \(labelsJSON)::jsonb, \(metricsJSON)::jsonb, now())
                """, logger: logger)
            try await audit(actor: actor, action: "adapter.promote", subject: version, details: metrics, on: c)
        }
    }

    public func productionAdapter() async throws -> AdapterRecord? {
        let rows = try await self.query("SELECT version, path, status FROM adapters WHERE status = 'production'")
        for try await (version, path, status) in rows.decode((String, String, String).self) {
            return AdapterRecord(version: version, path: path, status: status)
        }
        return nil
    }
}
