import Foundation
import Synchronization

/// Login throttling as a pure value (table-tested). Every attempt is counted per key — the
/// username, and the client's address — when it is admitted, before any password is checked
/// (so a burst of parallel guesses cannot all slip in before the first is recorded); a success
/// refunds it. After a key's free attempts (5 per username, 50 per address: many people may
/// share one address behind a proxy or NAT), each further attempt blocks the key for
/// `base`·2^(n − free − 1), capped at `maxDelay`. A blocked key is refused before any bcrypt
/// work. Counts are forgotten `window` after a key's last attempt, and memory is bounded: past
/// `capacity` keys the ones whose block ended longest ago go first.
public struct LoginThrottle: Sendable {
    public enum Key: Hashable, Sendable {
        case user(String)
        case address(String)

        /// A username, compared case-insensitively.
        public static func username(_ name: String) -> Key { .user(String(name.lowercased().prefix(64))) }

        /// A client address; IPv6 addresses are grouped by their /64 (one host usually holds a
        /// whole /64), IPv4-mapped IPv6 addresses count as IPv4.
        public static func client(_ address: String) -> Key {
            var bytes = [UInt8](repeating: 0, count: 16)
            guard address.contains(":"), inet_pton(AF_INET6, address, &bytes) == 1 else { return .address(address) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return .address(bytes[12..<16].map(String.init).joined(separator: "."))
            }
            let prefix = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            return .address(prefix.joined(separator: ":") + "::/64")
        }
    }

    public struct Entry: Sendable, Equatable {
        public var attempts: Int
        /// Seconds (on the caller's clock) until which the key is refused.
        public var blockedUntil: Double
        public var lastAttempt: Double
    }

    public let freePerUser: Int
    public let freePerAddress: Int
    public let baseDelay: Double
    public let maxDelay: Double
    public let window: Double
    public let capacity: Int
    public private(set) var entries: [Key: Entry] = [:]

    public init(freePerUser: Int = 5, freePerAddress: Int = 50, baseDelay: Double = 1, maxDelay: Double = 900, window: Double = 900,
                capacity: Int = 10_000) {
        self.freePerUser = freePerUser
        self.freePerAddress = freePerAddress
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.window = window
        self.capacity = capacity
    }

    func free(_ key: Key) -> Int {
        if case .user = key { return freePerUser }
        return freePerAddress
    }

    /// Seconds to wait before `keys` may try again (the longest of them), or nil when allowed.
    public func retryAfter(_ keys: [Key], now: Double) -> Double? {
        let wait = keys.compactMap { current($0, now: now) }.map { $0.blockedUntil - now }.max() ?? 0
        return wait > 0 ? wait : nil
    }

    /// Admits an attempt for `keys` — counting it for each — or, when one of them is blocked,
    /// returns how many seconds to wait (and counts nothing).
    public mutating func admit(_ keys: [Key], now: Double) -> Double? {
        if let wait = retryAfter(keys, now: now) { return wait }
        for key in keys {
            var entry = current(key, now: now) ?? Entry(attempts: 0, blockedUntil: 0, lastAttempt: now)
            entry.attempts += 1
            entry.lastAttempt = now
            let over = entry.attempts - free(key)
            if over > 0 { entry.blockedUntil = now + min(maxDelay, baseDelay * Double(1 << min(over - 1, 30))) }
            entries[key] = entry
        }
        if entries.count > capacity { evict() }
        return nil
    }

    /// The admitted attempt succeeded: the username starts afresh, the address gets its attempt back.
    public mutating func succeeded(_ keys: [Key]) {
        for key in keys {
            if case .user = key { entries.removeValue(forKey: key) } else { refund([key]) }
        }
    }

    /// The admitted attempt never reached a password check (the database or the check pool was
    /// busy): it is not held against anyone.
    public mutating func refund(_ keys: [Key]) {
        for key in keys {
            guard var entry = entries[key] else { continue }
            entry.attempts = max(0, entry.attempts - 1)
            if entry.attempts <= free(key) { entry.blockedUntil = 0 }
            entries[key] = entry
        }
    }

    /// The key's entry, unless it was forgotten (no attempt for `window` and no block running).
    func current(_ key: Key, now: Double) -> Entry? {
        guard let entry = entries[key], now - entry.lastAttempt <= window || entry.blockedUntil > now else { return nil }
        return entry
    }

    mutating func evict() {
        let ordered = entries.sorted { $0.value.blockedUntil < $1.value.blockedUntil || ($0.value.blockedUntil == $1.value.blockedUntil && $0.value.lastAttempt < $1.value.lastAttempt) }
        for (key, _) in ordered.prefix(entries.count - capacity * 9 / 10) { entries.removeValue(forKey: key) }
    }
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

    func admit(_ keys: [LoginThrottle.Key]) -> Double? { throttle.withLock { $0.admit(keys, now: now) } }
    func succeeded(_ keys: [LoginThrottle.Key]) { throttle.withLock { $0.succeeded(keys) } }
    func refund(_ keys: [LoginThrottle.Key]) { throttle.withLock { $0.refund(keys) } }

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
