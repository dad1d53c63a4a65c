import Logging
import ServiceLifecycle

/// The embedded PostgreSQL as a service of the server's `ServiceGroup`: while the server runs,
/// it checks every `interval` that the postmaster is alive and starts it again when it is not
/// (the server answers 503 and reports not ready meanwhile, through `DatabaseMonitor`); on
/// graceful shutdown — after the HTTP server and the pool, which come later in the group —
/// it stops the cluster. A cluster that another live process started (and will stop) is watched
/// but neither restarted nor stopped here; one whose starter is gone is adopted.
public struct EmbeddedPostgresService: Service {
    let postgres: EmbeddedPostgres
    let interval: Duration
    let logger: Logger

    public init(postgres: EmbeddedPostgres, interval: Duration = .seconds(1), logger: Logger) {
        self.postgres = postgres
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                // Adopted as soon as its starter is gone (a CLI command killed while we reused its
                // cluster), so that it is restarted and, at shutdown, stopped.
                guard !Task.isCancelled, postgres.adoptIfOrphaned(), !postgres.isRunning else { continue }
                logger.error("the embedded PostgreSQL is not running; starting it again")
                do {
                    try await onDedicatedThread(name: "intentloop.postgres") { try postgres.restart() }
                } catch {
                    logger.error("restarting the embedded PostgreSQL failed; will try again", metadata: ["error": "\(error)"])
                }
            }
        }
        try await onDedicatedThread(name: "intentloop.postgres") { postgres.stop() }
    }
}
