import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Watches the database with a cheap probe and tells everyone at once when it goes away: the
/// store refuses queries while it is down (503 at the edge instead of a request that hangs until
/// the pool gives up), abandons the ones in flight, and readiness reports it. A service: `run()`
/// probes every `interval` until shutdown. PostgresNIO's pool has no acquire timeout of its
/// own (a lease request waits while it retries connecting), which is why this exists.
public final class DatabaseMonitor: Service, Sendable {
    public struct Settings: Sendable {
        /// Time between probes.
        public var interval: Duration = .milliseconds(250)
        /// A probe slower than this counts as failed.
        public var probeTimeout: Duration = .milliseconds(500)
        /// Consecutive failed probes that declare an outage.
        public var failuresToDown = 2
        /// Longest a single query (waiting for a connection included) may take before the
        /// request is answered 503. Transactions (imports) are bounded by outages only.
        public var queryTimeout: Duration = .seconds(5)
        public init() {}
    }

    private struct Shared {
        var availability: DatabaseAvailability
        var observers: [Int: @Sendable () -> Void] = [:]
        var nextObserver = 0
    }

    let client: PostgresClient
    let logger: Logger
    public let settings: Settings
    private let shared: Mutex<Shared>
    private let onChange: @Sendable (_ up: Bool) -> Void

    public init(client: PostgresClient, settings: Settings = Settings(), logger: Logger, onChange: @escaping @Sendable (Bool) -> Void = { _ in }) {
        self.client = client
        self.settings = settings
        self.logger = logger
        self.onChange = onChange
        shared = Mutex(Shared(availability: DatabaseAvailability(failuresToDown: settings.failuresToDown)))
    }

    public var isUp: Bool { shared.withLock { $0.availability.isUp } }

    /// Calls `callback` once when an outage is declared (at once when the database is down now);
    /// returns the function that unregisters it.
    @Sendable public func onOutage(_ callback: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let id: Int? = shared.withLock { s in
            guard s.availability.isUp else { return nil }
            defer { s.nextObserver += 1 }
            s.observers[s.nextObserver] = callback
            return s.nextObserver
        }
        guard let id else {
            callback()
            return {}
        }
        return { [self] in _ = self.shared.withLock { $0.observers.removeValue(forKey: id) } }
    }

    /// A request saw the connection refused or dropped.
    public func connectionLost() {
        apply { $0.connectionLost() }
    }

    /// One probe: `SELECT 1` within `probeTimeout`. Returns whether it answered.
    @discardableResult
    public func probe() async -> Bool {
        let ok: Bool
        do {
            _ = try await race(limit: settings.probeTimeout) { [client, logger] in try await client.query("SELECT 1", logger: logger) }
            ok = true
        } catch {
            ok = false
        }
        apply { ok ? $0.probeSucceeded() : $0.probeFailed() }
        return ok
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.probe()
                try? await Task.sleep(for: self.settings.interval)
            }
        }
    }

    private func apply(_ event: (inout DatabaseAvailability) -> DatabaseAvailability.Change) {
        let (change, observers) = shared.withLock { s -> (DatabaseAvailability.Change, [@Sendable () -> Void]) in
            let change = event(&s.availability)
            guard change == .wentDown else { return (change, []) }
            defer { s.observers = [:] }
            return (change, Array(s.observers.values))
        }
        switch change {
        case .none: return
        case .wentDown:
            logger.error("database unreachable: answering 503 until it is back")
            for callback in observers { callback() }
            onChange(false)
        case .cameBack:
            logger.notice("database reachable again")
            onChange(true)
        }
    }
}

extension PSQLError {
    /// The error says the database cannot be reached (refused, dropped, shutting down), not that
    /// the query was wrong.
    public var isUnavailability: Bool {
        switch code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed: return true
        case .server:
            // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections, 08xxx connection exceptions
            let state = serverInfo?[.sqlState] ?? ""
            return ["57P01", "57P02", "57P03", "53300"].contains(state) || state.hasPrefix("08")
        default: return false
        }
    }
}
