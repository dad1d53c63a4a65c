import Synchronization

/// Login throttling as a pure value (table-tested): failed logins are counted per key — the
/// username and the client's address, each a key of its own — and after `freeFailures` failures
/// a key is blocked for `base`·2^(n − freeFailures − 1) (capped at `maxDelay`) after each
/// further failure. A blocked key is refused before any password is checked, so a flood costs
/// no bcrypt work. A success clears the username's count (not the address's: one right
/// password must not reopen a guessing run from that address). Memory is bounded: past
/// `capacity` keys the ones whose block ended longest ago are forgotten first.
public struct LoginThrottle: Sendable {
    public struct Entry: Sendable, Equatable {
        public var failures: Int
        /// Seconds (on the caller's clock) until which the key is refused.
        public var blockedUntil: Double
    }

    public let freeFailures: Int
    public let baseDelay: Double
    public let maxDelay: Double
    public let capacity: Int
    public private(set) var entries: [String: Entry] = [:]

    public init(freeFailures: Int = 5, baseDelay: Double = 1, maxDelay: Double = 900, capacity: Int = 10_000) {
        self.freeFailures = freeFailures
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.capacity = capacity
    }

    /// Seconds to wait before `keys` may try again (the longest of them), or nil when allowed.
    public func retryAfter(_ keys: [String], now: Double) -> Double? {
        let wait = keys.compactMap { entries[$0] }.map { $0.blockedUntil - now }.max() ?? 0
        return wait > 0 ? wait : nil
    }

    /// Records a failed attempt for each key.
    public mutating func failed(_ keys: [String], now: Double) {
        for key in keys {
            var entry = entries[key] ?? Entry(failures: 0, blockedUntil: 0)
            entry.failures += 1
            let over = entry.failures - freeFailures
            if over > 0 {
                let delay = min(maxDelay, baseDelay * Double(1 << min(over - 1, 30)))
                entry.blockedUntil = now + delay
            }
            entries[key] = entry
        }
        if entries.count > capacity { evict(now: now) }
    }

    /// A successful login clears `key`'s count.
    public mutating func succeeded(_ key: String) {
        entries.removeValue(forKey: key)
    }

    mutating func evict(now: Double) {
        let ordered = entries.sorted { $0.value.blockedUntil < $1.value.blockedUntil }
        for (key, _) in ordered.prefix(entries.count - capacity * 9 / 10) { entries.removeValue(forKey: key) }
    }

    public static func userKey(_ username: String) -> String { "user:" + username.lowercased().prefix(64) }
    public static func addressKey(_ address: String) -> String { "addr:" + address }
}

/// The process's login throttle and the bound on concurrent password checks.
final class LoginGuard: Sendable {
    private let throttle: Mutex<LoginThrottle>
    private let checking = Mutex(0)
    /// Most bcrypt checks running or waiting at once; a login beyond them is answered 503 at
    /// once instead of queueing cost-12 hashes (~0.2 s of CPU each) behind a flood.
    let maxConcurrentChecks: Int
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    init(throttle: LoginThrottle = LoginThrottle(), maxConcurrentChecks: Int = 4) {
        self.throttle = Mutex(throttle)
        self.maxConcurrentChecks = maxConcurrentChecks
        start = clock.now
    }

    var now: Double {
        let d = clock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func retryAfter(_ keys: [String]) -> Double? { throttle.withLock { $0.retryAfter(keys, now: now) } }
    func failed(_ keys: [String]) { throttle.withLock { $0.failed(keys, now: now) } }
    func succeeded(_ key: String) { throttle.withLock { $0.succeeded(key) } }

    /// Runs `check` when a slot is free; nil when all `maxConcurrentChecks` are taken.
    func withCheckSlot<T>(_ check: () async throws -> T) async rethrows -> T? {
        let admitted = checking.withLock { n -> Bool in
            guard n < maxConcurrentChecks else { return false }
            n += 1
            return true
        }
        guard admitted else { return nil }
        defer { checking.withLock { $0 -= 1 } }
        return try await check()
    }
}
