import Crypto
import Foundation
import IntentStore
import Synchronization

/// Remembers which user an API token belongs to for a few seconds, so that a client sending many
/// predictions costs one database lookup per token and TTL instead of one per request. Only
/// successful lookups are cached (a new token works at once); a revoked token or disabled user
/// stops working at once where `AuthChangesListener` runs (PostgreSQL NOTIFY), else within `ttl`. Keys are SHA-256 digests, never the tokens themselves.
public final class APITokenCache: Sendable {
    public static let defaultTTLSeconds = 10
    /// Past this many entries the cache starts over (a bound on memory, not an LRU).
    static let capacity = 10_000

    private struct Entry {
        let user: UserRecord
        let expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[SHA256Digest: Entry]>([:])
    let ttl: Duration

    init(ttl: Duration = .seconds(defaultTTLSeconds)) {
        self.ttl = ttl
    }

    /// Forgets every token (credentials changed somewhere: `AuthChangesListener`).
    public func invalidateAll() {
        entries.withLock { $0.removeAll() }
    }

    /// The token's user: from the cache while fresh, else from `lookup` (then cached when found).
    func user(token: String, lookup: (String) async throws -> UserRecord?) async rethrows -> UserRecord? {
        let key = SHA256.hash(data: Data(token.utf8))
        let now = ContinuousClock.now
        if let cached = entries.withLock({ $0[key] }), cached.expires > now { return cached.user }
        guard let user = try await lookup(token) else {
            entries.withLock { _ = $0.removeValue(forKey: key) }
            return nil
        }
        let entry = Entry(user: user, expires: now + ttl)
        entries.withLock { cache in
            if cache.count >= Self.capacity { cache.removeAll(keepingCapacity: true) }
            cache[key] = entry
        }
        return user
    }
}
