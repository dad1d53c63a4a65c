import ArgumentParser
import Foundation
import IntentStore
import Logging
import PostgresNIO

/// Where state lives: a PostgreSQL URL, or by default a private cluster in the data directory.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL (postgres://user:password@host:5432/db). Default: an embedded cluster in --data-dir.")
    var databaseURL: String?

    @Option(help: "Data directory: embedded database, adapters, demo credentials. Default: $INTENTLOOP_DATA or ~/.local/share/intentloop.")
    var dataDir: String?

    var dataDirectory: URL {
        if let dataDir { return URL(fileURLWithPath: dataDir, isDirectory: true) }
        if let env = ProcessInfo.processInfo.environment["INTENTLOOP_DATA"], !env.isEmpty { return URL(fileURLWithPath: env, isDirectory: true) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/intentloop", isDirectory: true)
    }

    /// The database to use: an embedded cluster started (or reused) in the data directory, or the
    /// server at --database-url; its client settings and a description for the banner.
    func server(logger: Logger) async throws -> (EmbeddedPostgres?, DatabaseEndpoint, String) {
        if let databaseURL {
            do {
                let endpoint = try DatabaseURL.endpoint(databaseURL)
                try await endpoint.check(logger: logger)
                return (nil, endpoint, "the database at --database-url")
            } catch {
                throw CLIFailure(message: error.description, code: error.code == .unavailable ? 1 : 2)
            }
        }
        let embedded: EmbeddedPostgres
        do { embedded = try EmbeddedPostgres.start(dataDirectory: dataDirectory, logger: logger) } catch { throw CLIFailure(message: error.description) }
        do { try await createDatabaseIfMissing(embedded.endpoint(), logger: logger) } catch {
            embedded.stop()
            throw error
        }
        return (embedded, embedded.endpoint(), "\(embedded.displayURL) (embedded, cluster \(embedded.clusterDirectory.path))")
    }

    /// Runs `body` with a migrated store whose pool is running; an embedded cluster started here
    /// is stopped afterwards.
    func withStore<T: Sendable>(logger: Logger, _ body: @Sendable (Store, _ location: String) async throws -> T) async throws -> T {
        let (embedded, endpoint, where_) = try await server(logger: logger)
        defer { embedded?.stop() }
        let client = PostgresClient(configuration: endpoint.clientConfiguration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try? await Task.sleep(for: .milliseconds(20))  // let run() start: queries before it log a warning
            defer { group.cancelAll() }
            let store = Store(client: client, logger: logger)
            do { try await store.migrate() } catch let error as StoreError { throw CLIFailure(message: error.description, code: 1) }
            return try await body(store, where_)
        }
    }
}

func commandLogger(_ label: String, verbose: Bool = false) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = verbose ? .debug : .info
    return logger
}

/// For short commands whose output is their answer (jobs, models): warnings and errors only, so
/// that a refusal stays the one line the CLI contract promises.
func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .warning
    return logger
}
