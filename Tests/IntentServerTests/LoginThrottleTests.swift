import IntentServer
import Testing

/// Login throttling as values: failures per key, exponential back-off, bounded memory.
@Suite struct LoginThrottleTests {
    let user = LoginThrottle.userKey("Agent")
    let address = LoginThrottle.addressKey("203.0.113.7")

    @Test func freeFailuresThenDoublingDelays() {
        var t = LoginThrottle(freeFailures: 5, baseDelay: 1, maxDelay: 900)
        // (failure number, delay that failure imposes)
        let expected: [(Int, Double?)] = [(1, nil), (2, nil), (3, nil), (4, nil), (5, nil), (6, 1), (7, 2), (8, 4), (9, 8), (10, 16)]
        var now = 0.0
        for (n, delay) in expected {
            t.failed([user], now: now)
            #expect(t.retryAfter([user], now: now) == delay, "after failure \(n)")
            now += delay ?? 0  // wait out the block, then fail again
        }
    }

    @Test func delaysAreCapped() {
        var t = LoginThrottle(freeFailures: 0, baseDelay: 1, maxDelay: 60)
        for _ in 0..<80 { t.failed([user], now: 0) }
        #expect(t.retryAfter([user], now: 0) == 60)
        #expect(t.retryAfter([user], now: 60) == nil)
    }

    @Test func eachKeyCountsAndTheLongestWaitWins() {
        var t = LoginThrottle(freeFailures: 1, baseDelay: 10)
        t.failed([user, address], now: 0)
        t.failed([address], now: 0)
        #expect(t.retryAfter([user], now: 0) == nil)
        #expect(t.retryAfter([address], now: 0) == 10)
        #expect(t.retryAfter([user, address], now: 3) == 7)
        #expect(t.retryAfter([LoginThrottle.userKey("agent")], now: 0) == nil, "usernames are compared case-insensitively (same key)")
    }

    @Test func successClearsTheUsernameOnly() {
        var t = LoginThrottle(freeFailures: 0, baseDelay: 5)
        t.failed([user, address], now: 0)
        t.succeeded(user)
        #expect(t.retryAfter([user], now: 0) == nil)
        #expect(t.retryAfter([address], now: 0) == 5)
    }

    @Test func memoryIsBounded() {
        var t = LoginThrottle(freeFailures: 0, baseDelay: 1, capacity: 100)
        for i in 0..<1000 { t.failed([LoginThrottle.userKey("u\(i)")], now: Double(i)) }
        #expect(t.entries.count <= 100)
        #expect(t.retryAfter([LoginThrottle.userKey("u999")], now: 999) == 1, "the newest blocks are kept")
    }
}
