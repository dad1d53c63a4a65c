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

    private struct State {
        var entries: [SHA256Digest: Entry] = [:]
        /// Bumped by `invalidateAll`: a lookup that started before it must not cache what it read.
        var generation = 0
    }

    private let state = Mutex(State())
    let ttl: Duration

    init(ttl: Duration = .seconds(defaultTTLSeconds)) {
        self.ttl = ttl
    }

    /// Forgets every token (credentials changed somewhere: `AuthChangesListener`).
    public func invalidateAll() {
        state.withLock {
            $0.generation += 1
            $0.entries.removeAll()
        }
    }

    /// The token's user: from the cache while fresh, else from `lookup` (then cached when found).
    func user(token: String, lookup: (String) async throws -> UserRecord?) async rethrows -> UserRecord? {
        let key = SHA256.hash(data: Data(token.utf8))
        let now = ContinuousClock.now
        let (cached, started) = state.withLock { ($0.entries[key], $0.generation) }
        if let cached, cached.expires > now { return cached.user }
        guard let user = try await lookup(token) else {
            state.withLock { _ = $0.entries.removeValue(forKey: key) }
            return nil
        }
        let entry = Entry(user: user, expires: now + ttl)
        state.withLock { s in
            // Credentials changed while we looked: what we read may be from before the change.
            guard s.generation == started else { return }
            if s.entries.count >= Self.capacity { s.entries.removeAll(keepingCapacity: true) }
            s.entries[key] = entry
        }
        return user
    }
}
