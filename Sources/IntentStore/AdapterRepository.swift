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

    /// pg_advisory_lock key for training the first adapter: "ILadaptr" in ASCII.
    static let firstAdapterLockKey: Int64 = 0x494C_6164_6170_7472

    /// Runs `body` holding a database-wide lock (a connection of its own, no statement timeout),
    /// so that replicas starting together train the first adapter once: the others wait and then
    /// find it in production.
    public func withFirstAdapterLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            _ = try await connection.query("SET statement_timeout = 0", logger: logger)
            _ = try await connection.query("SELECT pg_advisory_lock(\(Self.firstAdapterLockKey))", logger: logger)
            func release() async {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.firstAdapterLockKey))", logger: logger)
                _ = try? await connection.query("RESET statement_timeout", logger: logger)
            }
            do {
                let result = try await body()
                await release()
                return result
            } catch {
                await release()
                throw error
            }
        }
    }
}
