import Logging
import PostgresNIO

/// Applies migrations in order (each in a transaction, statement by statement: see SQLScript)
/// under a PostgreSQL advisory lock, so that replicas starting
/// together do not race: the first applies, the others wait and then find nothing to do.
/// Refuses (throws) when an applied migration's file has changed or is missing.
public enum Migrator {
    /// pg_advisory_lock key: "IntentLo" in ASCII.
    static let lockKey: Int64 = 0x496E_7465_6E74_4C6F

    /// Applies the pending migrations; returns the versions applied now.
    @discardableResult
    public static func migrate(_ client: PostgresClient, migrations: [Migration], logger: Logger) async throws -> [Int] {
        try await client.withConnection { connection in
            // Migrations may rebuild indexes on big tables and wait for another replica's lock: no
            // statement timeout here (a server sets one for requests), restored when done.
            _ = try await connection.query("SET statement_timeout = 0", logger: logger)
            defer { Task { _ = try? await connection.query("RESET statement_timeout", logger: logger) } }
            _ = try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
            do {
                let applied = try await apply(connection, migrations: migrations, logger: logger)
                _ = try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// The applied migrations' versions and checksums.
    public static func applied(_ connection: PostgresConnection, logger: Logger) async throws -> [Int: String] {
        var out: [Int: String] = [:]
        let rows = try await connection.query("SELECT version, checksum FROM schema_migrations", logger: logger)
        for try await (version, checksum) in rows.decode((Int, String).self) { out[version] = checksum }
        return out
    }

    static func apply(_ connection: PostgresConnection, migrations: [Migration], logger: Logger) async throws -> [Int] {
        _ = try await connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """, logger: logger)
        let done = try await applied(connection, logger: logger)
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, checksum) in done.sorted(by: { $0.key < $1.key }) {
            guard let file = known[version] else {
                throw StoreError(.migrationUnknown, "the database has migration \(version), which this build does not have: it was migrated by a newer IntentLoop")
            }
            guard file.checksum == checksum else {
                throw StoreError(.migrationChanged, "migration \(file.name) was changed after it was applied (checksum \(checksum.prefix(12))… in the database, \(file.checksum.prefix(12))… on disk): restore the file and add a new migration instead")
            }
        }
        var appliedNow: [Int] = []
        for m in migrations where done[m.version] == nil {
            logger.info("applying migration", metadata: ["store.migration": "\(m.name)"])
            do {
                _ = try await connection.query("BEGIN", logger: logger)
                for statement in SQLScript.statements(m.sql) {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                _ = try await connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(m.version), \(m.name), \(m.checksum))", logger: logger)
                _ = try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw StoreError(.migrationFailed, "migration \(m.name) failed and was rolled back: \(String(reflecting: error))")
            }
            appliedNow.append(m.version)
        }
        return appliedNow
    }
}
