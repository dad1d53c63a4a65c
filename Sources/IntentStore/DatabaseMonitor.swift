import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Watches the database with a cheap probe and tells everyone at once when it goes away: the
/// store refuses queries while it is down (503 at the edge instead of a request that hangs until
/// the pool gives up), abandons the ones in flight, and readiness reports it. A service: `run()`
/// probes every `interval` until shutdown. PostgresNIO's pool has no acquire timeout of its
/// own (a lease request waits while it retries connecting), which is why this exists.
///
/// The probe runs on a connection of its own (`probeEndpoint`), not through the pool: a pool
/// busy with slow queries must not look like an outage, and the probe must see the database
/// come back while the pool is still backing off (the pool is then replaced: `onChange`). A
/// request that sees a connection drop only asks for a probe now (`checkNow`): one terminated
/// backend is not an outage.
public final class DatabaseMonitor: Service, Sendable {
    public struct Settings: Sendable {
        /// Time between probes.
        public var interval: Duration = .milliseconds(250)
        /// A probe slower than this counts as failed. (A stopped database refuses the connection at
        /// once; this bounds only a database that hangs, and is generous so that a loaded machine's
        /// slow answer is not taken for an outage.)
        public var probeTimeout: Duration = .seconds(1)
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

    let pool: DatabasePool
    let probeEndpoint: PostgresConnection.Configuration?
    let logger: Logger
    public let settings: Settings
    private let shared: Mutex<Shared>
    private let probeConnection = Mutex<PostgresConnection?>(nil)
    /// Whether a probe is running, and what the last one found.
    private let probing = Mutex((busy: false, lastOK: true))
    private let onChange: @Sendable (_ up: Bool) -> Void

    /// Probes `probeEndpoint` on a connection of its own, or through `pool` when it is nil.
    public init(pool: DatabasePool, probeEndpoint: PostgresConnection.Configuration? = nil, settings: Settings = Settings(), logger: Logger,
                onChange: @escaping @Sendable (Bool) -> Void = { _ in }) {
        self.pool = pool
        self.probeEndpoint = probeEndpoint
        self.settings = settings
        self.logger = logger
        self.onChange = onChange
        shared = Mutex(Shared(availability: DatabaseAvailability(failuresToDown: settings.failuresToDown)))
    }

    public convenience init(client: PostgresClient, probeEndpoint: PostgresConnection.Configuration? = nil, settings: Settings = Settings(),
                            logger: Logger, onChange: @escaping @Sendable (Bool) -> Void = { _ in }) {
        self.init(pool: DatabasePool(fixed: client), probeEndpoint: probeEndpoint, settings: settings, logger: logger, onChange: onChange)
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

    /// A request saw a connection refused or dropped: probe now rather than at the next tick.
    public func checkNow() {
        guard claimProbe() else { return }  // one is under way: its verdict will do
        Task { await self.runClaimedProbe() }
    }

    /// Marks a probe as running; false when one already is.
    private func claimProbe() -> Bool {
        probing.withLock { p in
            guard !p.busy else { return false }
            p.busy = true
            return true
        }
    }

    /// One probe: `SELECT 1` within `probeTimeout`. Returns whether it answered. Probes do not
    /// overlap: one asked for while another runs waits for that one and returns its verdict; if
    /// that one has no verdict by its own deadline, the database did not answer in time: false.
    /// (Returning the previous probe's verdict there once told readiness "ready" while a hung
    /// database kept a loaded machine's first probe waiting.)
    @discardableResult
    public func probe() async -> Bool {
        guard claimProbe() else {
            let clock = ContinuousClock()
            let deadline = clock.now + settings.probeTimeout + .milliseconds(200)
            while probing.withLock({ $0.busy }) && clock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            return probing.withLock { !$0.busy && $0.lastOK }
        }
        return await runClaimedProbe()
    }

    @discardableResult
    private func runClaimedProbe() async -> Bool {
        let ok: Bool
        do {
            try await race(limit: settings.probeTimeout) { try await self.selectOne() }
            ok = true
        } catch {
            ok = false
            let stale = probeConnection.withLock { c -> PostgresConnection? in defer { c = nil }; return c }
            try? await stale?.close()
        }
        apply { ok ? $0.probeSucceeded() : $0.probeFailed() }
        probing.withLock { $0 = (busy: false, lastOK: ok) }
        return ok
    }

    private func selectOne() async throws {
        guard let probeEndpoint else {
            _ = try await pool.client.query("SELECT 1", logger: logger)
            return
        }
        let connection: PostgresConnection
        if let open = probeConnection.withLock({ $0 }), !open.isClosed {
            connection = open
        } else {
            connection = try await PostgresConnection.connect(configuration: probeEndpoint, id: 0, logger: Self.quiet)
            let replaced = probeConnection.withLock { c -> PostgresConnection? in defer { c = connection }; return c }
            try? await replaced?.close()
        }
        _ = try await connection.query("SELECT 1", logger: Self.quiet).collect()
    }

    /// The probe's own connection logs nothing: a refused connection every 250 ms during an
    /// outage is the monitor's news to tell, once.
    static let quiet = Logger(label: "intentloop.probe", factory: { _ in SwiftLogNoOpLogHandler() })

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.probe()
                try? await Task.sleep(for: self.settings.interval)
            }
        }
        try? await probeConnection.withLock({ $0 })?.close()
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
            // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections, 08xxx
            // connection exceptions, 57014 query_canceled (the statement timeout: the database did not answer in time)
            let state = serverInfo?[.sqlState] ?? ""
            return ["57P01", "57P02", "57P03", "53300", "57014"].contains(state) || state.hasPrefix("08")
        default: return false
        }
    }
}
