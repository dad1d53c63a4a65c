import Foundation
@testable import IntentServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IntentStore
import PostgresNIO
import Testing

/// Issue 9: each defect found by trying the server as a hostile user, as a test that failed on
/// the main branch before the fix.
@Suite struct HostileInputTests {
    static let combining = "a" + String(repeating: "\u{0301}", count: 2500)

    /// JSON for a string, with \u escapes for what JSON needs escaped (NUL included).
    static func quoted(_ s: String) -> String {
        String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
    }

    @Test func hugeOrNegativeQueueParametersAreRefusedNotATrap() async throws {
        try await Fixture.withApp { client, _, creds in
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            for (query, field) in [("page=999999999999999999", "page"), ("page=-1", "page"), ("page=9223372036854775807", "page"),
                                   ("page=1e3", "page"), ("min=NaN", "min"), ("max=1e309", "max"), ("min=-0.5", "min"),
                                   ("from=2024-13-45", "from"), ("intent=a%00b", "intent")] {
                // The page comes back with the message next to the field, and the value not applied.
                let r = try await browser.get(client, "/queue?\(query)")
                #expect(r.status == .badRequest, "\(query)")
                #expect(r.text.contains("id=\"\(field)-error\""), "\(query)")
            }
            #expect(try await browser.get(client, "/queue?page=3&min=0.2&max=0.9&from=2024-01-01").status == .ok)
        }
    }

    @Test func nulAndInvalidCodePointsAre400NamingTheField() async throws {
        try await Fixture.withApp { client, store, creds in
            let nul = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "hi\u0000there"}"#)
            #expect(nul.status == .badRequest && nul.errorField == "text")
            let inBatch = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"texts": ["fine", "bad\u0000"]}"#)
            #expect(inBatch.status == .badRequest && inBatch.errorField == "texts.1")
            let meta = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "ok", "metadata": {"k": "v\u0000"}}"#)
            #expect(meta.status == .badRequest && meta.errorField == "metadata")
            let lone = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "\ud800"}"#)
            #expect(lone.status == .badRequest)
            let note = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                             json: #"{"text": "where is it", "intent": "track_package", "note": "\u0000"}"#)
            #expect(note.status == .badRequest && note.errorField == "note")
            #expect(try await store.predictionCount() == 0)
        }
    }

    @Test func lengthIsCheckedInCodePointsEverywhere() async throws {
        try await Fixture.withApp { client, _, creds in
            // One Character, 2,501 code points: refused at the edge, not accepted and then unreviewable.
            let long = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: "{\"text\": \(Self.quoted(Self.combining))}")
            #expect(long.status == .badRequest && long.errorField == "text")
            let submit = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                               json: "{\"text\": \(Self.quoted(Self.combining)), \"intent\": \"track_package\"}")
            #expect(submit.status == .badRequest && submit.errorField == "text")
            // 2,000 code points (many fewer Characters) are accepted, and the prediction can be reviewed.
            let max = "a" + String(repeating: "\u{0301}", count: 1999)
            let ok = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: "{\"text\": \(Self.quoted(max))}")
            #expect(ok.status == .ok)
            let id = try #require(ok.object["id"] as? String)
            let review = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                               json: #"{"prediction_id": "\#(id)", "verdict": "correct", "intent": "\#(ok.object["intent"] as? String == "cancel_order" ? "reset_password" : "cancel_order")"}"#)
            #expect(review.status == .created)
            let csv = "text,intent\n\"\(Self.combining)\",track_package\n"
            let imported = try await client.call(.post, "/v1/import?kind=training&format=csv", token: creds.adminToken, body: ByteBuffer(string: csv),
                                                 contentType: "text/csv")
            #expect(imported.status == .badRequest && imported.errorField == "text")
        }
    }

    @Test func metadataIsBoundedAndStoredOncePerRequest() async throws {
        try await Fixture.withApp { client, store, creds in
            let big = String(repeating: "m", count: 5000)
            let refused = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "hi", "metadata": {"k": "\#(big)"}}"#)
            #expect(refused.status == .badRequest && refused.errorField == "metadata")
            let texts = (0..<64).map { "\"utterance number \($0)\"" }.joined(separator: ",")
            let meta = String(repeating: "x", count: 3000)
            let batch = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"texts": [\#(texts)], "metadata": {"session": "\#(meta)"}}"#)
            #expect(batch.status == .ok)
            #expect(try await store.scalar("SELECT count(*) FROM prediction_requests") == 1)
            #expect(try await store.scalar("SELECT count(*) FROM predictions") == 64)
            #expect(try await store.scalar("SELECT sum(pg_column_size(metadata)) FROM predictions") < 64 * 100)
            let first = try #require(((batch.object["predictions"] as? [[String: Any]])?.first?["id"] as? String).flatMap { UUID(uuidString: $0) })
            #expect(try await store.prediction(id: first)?.metadata.contains(meta) == true)
        }
    }

    @Test func oneBadRequestNeverFailsAnotherInTheSameFlush() async throws {
        try await Fixture.withApp { client, store, creds in
            // Rows PostgreSQL refuses (NUL) slip past validation only if it is bypassed: write them
            // straight to the group commit beside good requests, all at once.
            let writer = PredictionWriter(store: store)
            let results = await withTaskGroup(of: (Bool, Bool).self) { group in
                for i in 0..<40 {
                    let bad = i % 4 == 0
                    let row = PredictionRecord(id: UUID(), text: bad ? "bad\u{0}row" : "good \(i)", adapterVersion: "v", intent: "track_package",
                                               confidence: 0.9, margin: 0.5, topK: [], latencyMs: 1, clientID: nil)
                    group.addTask {
                        do { try await writer.write(PredictionRequestRecord(clientID: nil, predictions: [row])); return (bad, true) } catch { return (bad, false) }
                    }
                }
                var out: [(Bool, Bool)] = []
                for await r in group { out.append(r) }
                return out
            }
            #expect(results.filter { !$0.0 }.allSatisfy { $0.1 }, "every good request was stored")
            #expect(results.filter { $0.0 }.allSatisfy { !$0.1 }, "every bad one failed")
            let stored = try await store.scalar("SELECT count(*) FROM predictions")
            #expect(stored == 30)
            _ = (client, creds)
        }
    }

    @Test func idempotencyKeyMakesRetriesStoreOnce() async throws {
        try await Fixture.withApp { client, store, creds in
            func predict(_ body: String, key: String) async throws -> TestResponse {
                try await client.execute(uri: "/v1/predict", method: .post,
                                         headers: [.authorization: "Bearer \(creds.clientToken)", .contentType: "application/json",
                                                   HTTPField.Name("Idempotency-Key")!: key], body: ByteBuffer(string: body))
            }
            let first = try await predict(#"{"text": "where is my parcel"}"#, key: "retry-1")
            let again = try await predict(#"{"text": "where is my parcel"}"#, key: "retry-1")
            #expect(first.status == .ok && again.status == .ok)
            #expect(first.object["id"] as? String == again.object["id"] as? String)
            #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try await store.predictionCount() == 1)
            let other = try await predict(#"{"text": "cancel my order"}"#, key: "retry-1")
            #expect(other.status == .unprocessableContent && other.errorField == "Idempotency-Key")
            let badKey = try await predict(#"{"text": "x"}"#, key: "has space")
            #expect(badKey.status == .badRequest && badKey.errorField == "Idempotency-Key")
            // Concurrent retries with one key: one stored request, every answer the same ids.
            let ids = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let r = try await predict(#"{"texts": ["a b", "c d"]}"#, key: "burst")
                        return ((r.object["predictions"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
                    }
                }
                var out: Set<[String]> = []
                for try await id in group { out.insert(id) }
                return out
            }
            #expect(ids.count == 1)
            #expect(try await store.predictionCount() == 3)

            let id = try #require(first.object["id"] as? String)
            func review(_ verdict: String, key: String) async throws -> TestResponse {
                try await client.execute(uri: "/v1/feedback", method: .post,
                                         headers: [.authorization: "Bearer \(creds.agentToken)", .contentType: "application/json",
                                                   HTTPField.Name("Idempotency-Key")!: key],
                                         body: ByteBuffer(string: #"{"prediction_id": "\#(id)", "verdict": "\#(verdict)"}"#))
            }
            // A retry racing its own first attempt gets the same verdict back, not a 409.
            async let a = review("confirm", key: "fb-1")
            async let b = review("confirm", key: "fb-1")
            let (r1, r2) = try await (a, b)
            #expect(Set([r1.status, r2.status]) == [.created, .ok], "one stored, one replayed")
            #expect(r1.object["id"] as? Int == r2.object["id"] as? Int)
            #expect([r1, r2].contains { $0.headers[HTTPField.Name("Idempotent-Replayed")!] == "true" })
            #expect(try await review("confirm", key: "fb-2").status == .conflict, "a new key is a new verdict: the second is refused")
        }
    }

    @Test func apiIgnoresSessionCookiesSoPagesCannotForgeAPIRequests() async throws {
        try await Fixture.withApp { client, store, creds in
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            var headers = browser.headers()
            headers[.contentType] = "text/plain"
            let forged = try await client.execute(uri: "/v1/feedback", method: .post, headers: headers,
                                                  body: ByteBuffer(string: #"{"text": "forged", "intent": "track_package"}"#))
            #expect(forged.status == .unauthorized)
            // The same route reached through an odd path is still the API.
            let doubled = try await client.execute(uri: "//v1/feedback", method: .post, headers: headers,
                                                   body: ByteBuffer(string: #"{"text": "forged", "intent": "track_package"}"#))
            #expect(doubled.status == .unauthorized || doubled.status == .notFound)
            #expect(try await store.scalar("SELECT count(*) FROM feedback") == 0)
            #expect(try await browser.get(client, "/queue").status == .ok, "the cookie still works for pages")
        }
    }

    @Test func aRefusedVerdictLeavesNoProposalBehind() async throws {
        try await Fixture.withApp { client, store, creds in
            let p = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "where is my parcel"}"#)
            let id = try #require(p.object["id"] as? String)
            #expect(try await client.call(.post, "/v1/feedback", token: creds.agentToken, json: #"{"prediction_id": "\#(id)", "verdict": "confirm"}"#).status == .created)
            let second = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                               json: #"{"prediction_id": "\#(id)", "verdict": "correct", "intent": "brand_new", "propose_intent": true}"#)
            #expect(second.status == .conflict)
            #expect(try await store.intentStatus("brand_new") == nil)
            #expect(try await store.scalar("SELECT count(*) FROM audit_events WHERE action = 'intent.propose'") == 0)
        }
    }

    @Test func intentsWithSlashesCanBeApprovedAndErrorsAreNotEchoed() async throws {
        try await Fixture.withApp { client, store, creds in
            _ = try await store.createUser(username: "boss", role: .admin, passwordHash: try await IntentServer.Passwords.hash("boss-password-1"))
            #expect(try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                          json: #"{"text": "refund my card", "intent": "billing/refund", "propose_intent": true}"#).status == .created)
            var admin = Browser()
            _ = try await admin.logIn(client, username: "boss", password: "boss-password-1")
            let page = try await admin.get(client, "/admin/intents")
            let csrf = try #require(Browser.hidden("csrf", in: page.text))
            let decided = try await admin.post(client, "/admin/intents/decide", form: ["name": "billing/refund", "decision": "approve", "csrf": csrf])
            #expect(decided.status == .seeOther)
            #expect(try await store.intentStatus("billing/refund") == .active)
            #expect(try await store.scalar("SELECT count(*) FROM audit_events WHERE action = 'intent.approve'") == 1)

            let p = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "where is my parcel"}"#)
            let id = try #require(p.object["id"] as? String)
            let spoof = try await admin.get(client, "/predictions/\(id)?error=Your+account+is+locked.+Call+555-0100")
            #expect(spoof.status == .ok && !spoof.text.contains("555-0100"))
            // A real error still reaches the page, through the flash cookie.
            // A real error comes back with the form, the typed intent kept and the message at its field.
            let bad = try await admin.post(client, "/predictions/\(id)/feedback", form: ["verdict": "correct", "intent": "no_such_intent", "csrf": csrf])
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains("id=\"intent-error\"") && bad.text.contains("unknown intent") && bad.text.contains("value=\"no_such_intent\""))
            // A message for the next page travels in the flash cookie, shown once.
            let undo = try await admin.post(client, "/predictions/\(id)/feedback/undo", form: ["csrf": csrf])
            #expect(undo.status == .seeOther && admin.cookies["il_flash"]?.isEmpty == false)
            let shown = try await admin.get(client, "/predictions/\(id)")
            #expect(shown.text.contains("Nothing to undo"))
            #expect(admin.cookies["il_flash"]?.isEmpty != false, "shown once")
        }
    }

    @Test func disabledUsersLoseSessionsAndTokensAtOnce() async throws {
        try await Fixture.withApp { client, store, creds in
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            #expect(try await client.call(.get, "/v1/intents", token: creds.agentToken).status == .ok)  // now cached
            #expect(try await store.setUserDisabled("agent", disabled: true, actor: nil))
            var status = HTTPResponse.Status.ok
            for _ in 0..<40 where status == .ok {  // the NOTIFY arrives within milliseconds; 2 s at most
                status = try await client.call(.get, "/v1/intents", token: creds.agentToken).status
                if status == .ok { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(status == .unauthorized)
            #expect(try await browser.get(client, "/queue").headers[.location] == "/login")
            #expect(try await browser.logIn(client, username: "agent", password: creds.agentPassword).status == .unauthorized)
            #expect(try await store.scalar("SELECT count(*) FROM audit_events WHERE action = 'user.disable'") == 1)
            #expect(try await store.setUserDisabled("agent", disabled: false, actor: nil))
            #expect(try await client.call(.get, "/v1/intents", token: creds.agentToken).status == .ok)
        }
    }

    @Test func loginFloodIsThrottledBeforeAnyPasswordIsChecked() async throws {
        try await Fixture.withApp(configure: { $0.loginThrottle = LoginThrottle(freePerUser: 3, baseDelay: 30) }) { client, _, creds in
            var browser = Browser()
            for _ in 0..<4 { #expect(try await browser.logIn(client, username: "agent", password: "wrong-password").status == .unauthorized) }
            let form = try await browser.get(client, "/login")
            let clock = ContinuousClock()
            let start = clock.now
            let blocked = try await browser.post(client, "/login", form: ["username": "agent", "password": creds.agentPassword,
                                                                            "csrf": Browser.hidden("csrf", in: form.text) ?? ""])
            #expect(clock.now - start < .milliseconds(200), "refused before any bcrypt (cost 12: ~250 ms) runs")
            #expect(blocked.status == .tooManyRequests)
            #expect((20...30).contains(Int(blocked.headers[.retryAfter] ?? "") ?? 0), "about the 30 s block, less the time since")
            #expect(blocked.text.contains("Too many failed logins"))
            var other = Browser()
            let otherUser = try await other.logIn(client, username: "nobody-else", password: "x")
            #expect(otherUser.status == .unauthorized, "another username is not blocked by this one's failures")
        }
    }
}

extension HostileInputTests {
    @Test func theModelQueueIsBounded() async throws {
        try await Fixture.withApp(configure: { $0.maxQueuedTexts = 3 }) { client, store, creds in
            let texts = (0..<4).map { "\"text \($0)\"" }.joined(separator: ",")
            let refused = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"texts": [\#(texts)]}"#)
            #expect(refused.status == .serviceUnavailable && refused.headers[.retryAfter] == "2")
            #expect(try await store.predictionCount() == 0)
            #expect(try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"texts": ["a", "b"]}"#).status == .ok)
        }
    }

    @Test func passwordChecksAreBoundedNotQueued() async throws {
        try await Fixture.withApp(configure: { $0.maxConcurrentLogins = 1 }) { client, _, creds in
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for i in 0..<6 {
                    group.addTask {
                        var browser = Browser()
                        let r = try await browser.logIn(client, username: "user\(i)", password: "wrong-password")
                        return (r.status, r.headers[.retryAfter])
                    }
                }
                var out: [(HTTPResponse.Status, String?)] = []
                for try await s in group { out.append(s) }
                return out
            }
            #expect(statuses.allSatisfy { $0.0 == .unauthorized || ($0.0 == .serviceUnavailable && $0.1 == "1") })
            #expect(statuses.contains { $0.0 == .serviceUnavailable }, "six bcrypt checks at once with one slot: some are refused")
            #expect(statuses.contains { $0.0 == .unauthorized })
            _ = creds
        }
    }
}

extension Store {
    /// One integer from SQL (tests only).
    func scalar(_ sql: String) async throws -> Int {
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        for try await n in rows.decode(Int64?.self) { return Int(n ?? 0) }
        return 0
    }
}
