import IntentServer
import Testing

/// Login throttling as values: attempts per key counted at admission, exponential back-off,
/// forgetting after a quiet window, bounded memory.
@Suite struct LoginThrottleTests {
    let user = LoginThrottle.Key.username("Agent")
    let address = LoginThrottle.Key.client("203.0.113.7")

    @Test func freeAttemptsThenDoublingDelays() {
        var t = LoginThrottle(freePerUser: 5, baseDelay: 1, maxDelay: 900)
        // (attempt number, the delay it imposes on the next one)
        let expected: [(Int, Double?)] = [(1, nil), (2, nil), (3, nil), (4, nil), (5, nil), (6, 1), (7, 2), (8, 4), (9, 8), (10, 16)]
        var now = 0.0
        for (n, delay) in expected {
            #expect(t.admit([user], now: now) == nil, "attempt \(n) is admitted")
            #expect(t.retryAfter([user], now: now) == delay, "after attempt \(n)")
            now += delay ?? 0  // wait out the block, then try again
        }
    }

    @Test func aBlockedKeyIsRefusedAndNotCharged() {
        var t = LoginThrottle(freePerUser: 1, baseDelay: 10)
        #expect(t.admit([user], now: 0) == nil)
        #expect(t.admit([user], now: 0) == nil)  // the 2nd attempt is over the free one: blocks for 10 s
        #expect(t.admit([user], now: 1) == 9)
        #expect(t.admit([user], now: 2) == 8)
        #expect(t.entries[user]?.attempts == 2, "refusals are not counted")
    }

    @Test func parallelAttemptsAreCountedWhenAdmitted() {
        // Six guesses arriving together, before any password check finishes: the sixth is refused.
        var t = LoginThrottle(freePerUser: 4, baseDelay: 5)
        let admitted = (0..<6).map { _ in t.admit([user], now: 0) == nil }
        #expect(admitted == [true, true, true, true, true, false])
    }

    @Test func delaysAreCapped() {
        var t = LoginThrottle(freePerUser: 0, baseDelay: 1, maxDelay: 60)
        var now = 0.0, admitted = 0
        while admitted < 30 {
            if let wait = t.admit([user], now: now) { now += wait } else { admitted += 1 }
        }
        #expect(t.retryAfter([user], now: now) == 60)
        #expect(t.retryAfter([user], now: now + 60) == nil)
    }

    @Test func addressesGetMoreFreeAttemptsThanUsernames() {
        var t = LoginThrottle(freePerUser: 2, freePerAddress: 4, baseDelay: 10)
        for _ in 0..<3 { _ = t.admit([LoginThrottle.Key.username("u\(Int.random(in: 0...1_000_000))"), address], now: 0) }
        #expect(t.retryAfter([address], now: 0) == nil)
        _ = t.admit([address], now: 0)
        _ = t.admit([address], now: 0)
        #expect(t.retryAfter([address], now: 0) == 10)
        #expect(t.retryAfter([LoginThrottle.Key.username("someone-else")], now: 0) == nil)
    }

    @Test func usernamesAreCaseInsensitiveAndIPv6IsGroupedBySlash64() {
        var t = LoginThrottle(freePerUser: 1, baseDelay: 10)
        _ = t.admit([LoginThrottle.Key.username("Agent")], now: 0)
        _ = t.admit([LoginThrottle.Key.username("AGENT")], now: 0)
        #expect(t.retryAfter([LoginThrottle.Key.username("agent")], now: 0) == 10)
        #expect(LoginThrottle.Key.client("2001:db8:1:2:aaaa::1") == LoginThrottle.Key.client("2001:db8:1:2:bbbb::2"))
        #expect(LoginThrottle.Key.client("2001:db8::abcd:1") == LoginThrottle.Key.client("2001:db8:0:0:1234::9"), "compressed forms too")
        #expect(LoginThrottle.Key.client("2001:db8:1:2::1") != LoginThrottle.Key.client("2001:db8:1:3::1"))
        #expect(LoginThrottle.Key.client("::ffff:192.0.2.1") == LoginThrottle.Key.client("192.0.2.1"))
        #expect(LoginThrottle.Key.client("192.0.2.1") != LoginThrottle.Key.client("192.0.2.2"))
    }

    @Test func successClearsTheUsernameAndRefundsTheAddress() {
        var t = LoginThrottle(freePerUser: 0, freePerAddress: 0, baseDelay: 5)
        #expect(t.admit([user, address], now: 0) == nil)
        t.succeeded([user, address])
        #expect(t.retryAfter([user], now: 0) == nil)
        #expect(t.retryAfter([address], now: 0) == nil)
        #expect(t.entries[address]?.attempts == 0)
    }

    @Test func anAttemptThatNeverReachedAPasswordIsRefunded() {
        var t = LoginThrottle(freePerUser: 1, freePerAddress: 1, baseDelay: 10)
        for _ in 0..<5 {  // the database is down: every attempt fails before the password check
            #expect(t.admit([user, address], now: 0) == nil)
            t.refund([user, address])
        }
        #expect(t.retryAfter([user, address], now: 0) == nil)
        #expect(t.entries[user]?.attempts == 0)
    }

    @Test func countsAreForgottenAfterAQuietWindow() {
        var t = LoginThrottle(freePerUser: 2, baseDelay: 1, window: 900)
        for _ in 0..<2 { _ = t.admit([user], now: 0) }
        #expect(t.admit([user], now: 1000) == nil)
        #expect(t.retryAfter([user], now: 1000) == nil, "the earlier attempts were forgotten: this is attempt 1 again")
    }

    @Test func memoryIsBounded() {
        var t = LoginThrottle(freePerUser: 0, baseDelay: 1, capacity: 100)
        for i in 0..<1000 { _ = t.admit([LoginThrottle.Key.username("u\(i)")], now: Double(i)) }
        #expect(t.entries.count <= 100)
        #expect(t.retryAfter([LoginThrottle.Key.username("u999")], now: 999) == 1, "the newest blocks are kept")
    }
}
