import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The connection pool, replaceable: after an outage the monitor asks for a fresh one.
///
/// Why: PostgresNIO's pool retries a failing connection with a growing back-off (100 ms ×
/// 1.25ⁿ, capped at one minute) and queues or fails every request meanwhile, so after a long
/// outage it can take up to a minute to notice that PostgreSQL is back. The monitor probes on a
/// connection of its own; when the database answers again, `replace()` starts a new client
/// (whose first connection is made at once) and stops the old one. A service: `run()` runs the
/// current client until graceful shutdown. A `fixed` pool wraps a client the caller runs.
public final class DatabasePool: Service, Sendable {
    private struct Current {
        var client: PostgresClient
        var generation = 0
    }

    private let current: Mutex<Current>
    private let make: (@Sendable () -> PostgresClient)?
    private let replacements: AsyncStream<PostgresClient>
    private let requestReplacement: AsyncStream<PostgresClient>.Continuation
    /// The task running the current client.
    private let running = Mutex<Task<Void, Never>?>(nil)
    let logger: Logger

    public init(logger: Logger, _ make: @escaping @Sendable () -> PostgresClient) {
        self.make = make
        self.logger = logger
        current = Mutex(Current(client: make()))
        (replacements, requestReplacement) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// A pool that is one client the caller runs; `replace()` does nothing.
    public init(fixed client: PostgresClient) {
        make = nil
        logger = Logger(label: "intentloop.store")
        current = Mutex(Current(client: client))
        (replacements, requestReplacement) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    public var client: PostgresClient { current.withLock { $0.client } }
    public var generation: Int { current.withLock { $0.generation } }

    /// Makes a fresh client current at once (queries from now on go to it; they wait until it
    /// runs) and asks `run()` to start it and stop the old one.
    public func replace() {
        guard let make else { return }
        let fresh = make()
        current.withLock {
            $0.client = fresh
            $0.generation += 1
        }
        requestReplacement.yield(fresh)
    }

    public func run() async throws {
        guard make != nil else { return }
        let first = client
        running.withLock { $0 = Task { await first.run() } }
        await cancelWhenGracefulShutdown {
            for await fresh in self.replacements {
                let next = Task { await fresh.run() }
                // The old pool's connections died with the outage: nothing in flight is lost.
                self.running.withLock { old in
                    old?.cancel()
                    old = next
                }
                self.logger.notice("database connection pool replaced after an outage")
            }
        }
        let last = running.withLock { task -> Task<Void, Never>? in
            task?.cancel()
            return task
        }
        await last?.value
    }
}
