import Foundation
import Logging
import PostgresNIO

/// IntentLoop's state in PostgreSQL: one connection pool and the repositories (extensions in
/// the *Repository.swift files). The pool must be running: `run()` is a long-lived task (it is
/// a ServiceLifecycle service inside the server).
public struct Store: Sendable {
    public let pool: DatabasePool
    public let logger: Logger
    /// When set, queries are refused while the database is down and abandoned when it goes
    /// away (`StoreError.unavailable`), and each is bounded by its `queryTimeout`.
    public let monitor: DatabaseMonitor?

    /// The pool's current client (a new one after an outage: see `DatabasePool`).
    public var client: PostgresClient { pool.client }

    /// A store over a client the caller runs (tools, tests).
    public init(client: PostgresClient, logger: Logger, monitor: DatabaseMonitor? = nil) {
        self.init(pool: DatabasePool(fixed: client), logger: logger, monitor: monitor)
    }

    /// A store over a pool that runs as a service (the server).
    public init(pool: DatabasePool, logger: Logger, monitor: DatabaseMonitor? = nil) {
        self.pool = pool
        self.logger = logger
        self.monitor = monitor
    }

    /// Runs one statement through the pool (see `guarded`).
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await guarded(limit: monitor?.settings.queryTimeout) { [client, logger] in try await client.query(query, logger: logger) }
    }

    /// Runs `body` in one transaction, bounded like a query (twice its timeout): feedback,
    /// decisions, users and tokens are a few short statements each.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await transaction(limit: monitor.map { $0.settings.queryTimeout * 2 }, body)
    }

    /// Runs `body` in one transaction, abandoned after `limit` (nil: only when the database goes
    /// away; imports, which may take long and lift the statement timeout inside). The error
    /// thrown is the one that stopped the transaction (PostgresNIO wraps it in a
    /// `PostgresTransactionError`; callers match on `StoreError` and `PSQLError`).
    public func transaction<T: Sendable>(limit: Duration?, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await guarded(limit: limit) { [client, logger] in
            do { return try await client.withTransaction(logger: logger) { try await body($0) } } catch let error as PostgresTransactionError {
                throw error.closureError ?? error.beginError ?? error.commitError ?? error
            }
        }
    }

    /// Database work under the monitor: refused at once while the database is down, abandoned
    /// when it goes down or `limit` passes, and connection-level failures reported to the
    /// monitor; each of these is `StoreError.unavailable`.
    func guarded<T: Sendable>(limit: Duration?, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let monitor else { return try await operation() }
        guard monitor.isUp else { throw StoreError.unavailable }
        do {
            return try await race(limit: limit, abandon: monitor.onOutage, operation)
        } catch is DeadlineExceeded {
            throw StoreError.unavailable
        } catch let error as PSQLError where error.isUnavailability {
            monitor.checkNow()
            throw StoreError.unavailable
        } catch where isPoolFailure(error) {
            monitor.checkNow()
            throw StoreError.unavailable
        }
    }

    /// Applies pending migrations from `Migrations/` (or `directory`); throws when an applied one changed.
    @discardableResult
    public func migrate(directory: URL? = nil) async throws -> [Int] {
        guard let dir = directory ?? ResourceDirectory.migrations else {
            throw StoreError(.migrationFiles, "the Migrations folder was not found (set INTENTLOOP_MIGRATIONS)")
        }
        return try await Migrator.migrate(client, migrations: try Migration.load(from: dir), logger: logger)
    }

    /// Appends an audit event (who, what, about what, details as a JSON object).
    public func audit(actor: Int64?, action: String, subject: String = "", details: [String: String] = [:],
                      on connection: PostgresConnection? = nil) async throws {
        let json = try jsonText(details)
        let query: PostgresQuery = "INSERT INTO audit_events (actor_id, action, subject, details) VALUES (\(actor), \(action), \(subject), \(json)::jsonb)"
        if let connection { _ = try await connection.query(query, logger: logger) } else { try await self.query(query) }
    }
}

/// PostgresNIO's pool reports a tripped circuit breaker (connections failing for a minute) with
/// an error type of its internal module, which cannot be imported by name.
func isPoolFailure(_ error: any Error) -> Bool {
    String(reflecting: type(of: error)).hasSuffix("ConnectionPoolError")
}

/// Connection settings from a `postgres://user:password@host:port/database` URL.
public enum DatabaseURL {
    public static func endpoint(_ url: String) throws(StoreError) -> DatabaseEndpoint {
        guard let c = URLComponents(string: url), ["postgres", "postgresql"].contains(c.scheme ?? ""), let host = c.host, !host.isEmpty else {
            throw StoreError(.invalid, "--database-url must look like postgres://user:password@host:5432/database", field: "database-url")
        }
        guard (1...65535).contains(c.port ?? 5432) else { throw StoreError(.invalid, "--database-url has a port out of range", field: "database-url") }
        let database = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        let sslmode = c.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        return DatabaseEndpoint(host: host, port: c.port ?? 5432, username: c.user ?? "postgres", password: c.password?.removingPercentEncoding,
                                database: database.isEmpty ? nil : database, preferTLS: sslmode != "disable")
    }

    public static func configuration(_ url: String) throws(StoreError) -> PostgresClient.Configuration {
        try endpoint(url).clientConfiguration
    }
}

extension EmbeddedPostgres {
    /// Where this cluster's `database` (default: its own) is.
    public func endpoint(database name: String? = nil) -> DatabaseEndpoint {
        DatabaseEndpoint(host: "127.0.0.1", port: port, username: username, password: password, database: name ?? database)
    }

    /// Client settings for `database` (default: the cluster's own) on this cluster.
    public func configuration(database name: String? = nil) -> PostgresClient.Configuration {
        endpoint(database: name).clientConfiguration
    }
}

/// Runs `body` on one connection of its own to the server's `postgres` maintenance database
/// (no pool to start or stop).
public func withMaintenanceConnection<T: Sendable>(_ endpoint: DatabaseEndpoint, logger: Logger,
                                                   _ body: (PostgresConnection) async throws -> T) async throws -> T {
    var maintenance = endpoint
    maintenance.database = "postgres"
    let connection = try await PostgresConnection.connect(configuration: try maintenance.connectionConfiguration(), id: 1, logger: logger)
    do {
        let result = try await body(connection)
        try? await connection.close()
        return result
    } catch {
        try? await connection.close()
        throw error
    }
}

/// Creates `endpoint`'s database on its server when it does not exist.
public func createDatabaseIfMissing(_ endpoint: DatabaseEndpoint, logger: Logger) async throws {
    guard let name = endpoint.database else { return }
    try await withMaintenanceConnection(endpoint, logger: logger) { connection in
        let rows = try await connection.query("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: logger)
        var exists = false
        for try await _ in rows { exists = true }
        if !exists {
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw StoreError(.invalid, "database name '\(name)' must be letters, digits and _")
            }
            _ = try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
    }
}
