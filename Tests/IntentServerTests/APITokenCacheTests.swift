import Foundation
@testable import IntentServer
@testable import IntentStore
import Synchronization
import Testing

/// The API-token cache: one lookup per token while fresh, misses never cached, expiry honoured.
@Suite struct APITokenCacheTests {
    final class CountingLookup: Sendable {
        let calls = Mutex(0)
        let known: [String: UserRecord]
        init(_ known: [String: UserRecord]) { self.known = known }
        func lookup(_ token: String) async throws -> UserRecord? {
            calls.withLock { $0 += 1 }
            return known[token]
        }
    }

    @Test func freshHitsSkipTheLookupAndMissesAreNotCached() async throws {
        let ann = UserRecord(id: 7, username: "ann", role: .client, passwordHash: nil)
        let store = CountingLookup(["il_a": ann])
        let cache = APITokenCache(ttl: .seconds(60))
        for _ in 0..<5 { #expect(try await cache.user(token: "il_a", lookup: store.lookup)?.id == 7) }
        #expect(store.calls.withLock { $0 } == 1)
        for _ in 0..<3 { #expect(try await cache.user(token: "il_b", lookup: store.lookup) == nil) }
        #expect(store.calls.withLock { $0 } == 4, "an unknown token is looked up every time (a new token works at once)")
    }

    @Test func expiredEntriesAreLookedUpAgain() async throws {
        let ann = UserRecord(id: 7, username: "ann", role: .client, passwordHash: nil)
        let store = CountingLookup(["il_a": ann])
        let cache = APITokenCache(ttl: .milliseconds(20))
        _ = try await cache.user(token: "il_a", lookup: store.lookup)
        try await Task.sleep(for: .milliseconds(40))
        let revoked = CountingLookup([:])
        #expect(try await cache.user(token: "il_a", lookup: revoked.lookup) == nil, "after the TTL a revoked token is refused")
        #expect(revoked.calls.withLock { $0 } == 1)
    }
}
