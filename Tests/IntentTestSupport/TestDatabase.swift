import Foundation
import IntentStore
import Logging
import PostgresNIO

/// A real PostgreSQL for tests: $INTENTLOOP_TEST_DATABASE_URL when set, else the project's
/// embedded launcher on a cluster in $INTENTLOOP_TEST_DATA (ops/test sets it and stops the
/// cluster afterwards) or a per-user folder under /tmp. Each test gets a database of its own.
public enum TestDatabase {
    static let logger: Logger = {
        var l = Logger(label: "intentloop.test")
        l.logLevel = .warning
        return l
    }()

    static let server: Result<DatabaseEndpoint, StoreError> = {
        let env = ProcessInfo.processInfo.environment
        if let url = env["INTENTLOOP_TEST_DATABASE_URL"], !url.isEmpty {
            return Result { () throws(StoreError) in try DatabaseURL.endpoint(url) }
        }
        let dir = env["INTENTLOOP_TEST_DATA"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("intentloop-tests-\(getuid())")
        return Result { () throws(StoreError) in try EmbeddedPostgres.start(dataDirectory: dir, logger: logger).endpoint(database: "postgres") }
    }()

    /// Where a database named `name` is on the test server.
    public static func endpoint(database name: String) throws -> DatabaseEndpoint {
        var e = try server.get()
        e.database = name
        return e
    }

    /// The server's settings for a database named `name`.
    public static func configuration(database name: String) throws -> PostgresClient.Configuration {
        try endpoint(database: name).clientConfiguration
    }

    /// Runs `body` with a migrated store on a fresh database, dropped afterwards.
    public static func withStore<T: Sendable>(migrate: Bool = true, _ body: @Sendable (Store) async throws -> T) async throws -> T {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        // The first touch of `server` starts PostgreSQL (initdb on a fresh folder), blocking for
        // seconds: on a thread of its own, not the cooperative pool (see `offPool`; waiting, not
        // computing, so it takes no `offPool` slot).
        let (configuration, endpoint) = try await onDedicatedThread(name: "test-postgres") {
            (try Self.configuration(database: name), try Self.endpoint(database: name))
        }
        try await createDatabaseIfMissing(endpoint, logger: logger)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let result: Result<T, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try? await Task.sleep(for: .milliseconds(20))  // let run() start: queries before it log a warning
            defer { group.cancelAll() }
            do {
                let store = Store(client: client, logger: logger)
                if migrate { try await store.migrate() }
                return .success(try await body(store))
            } catch {
                return .failure(error)
            }
        }
        try? await drop(name)
        return try result.get()
    }

    static func drop(_ name: String) async throws {
        try await withMaintenanceConnection(try endpoint(database: "postgres"), logger: logger) { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }
}
