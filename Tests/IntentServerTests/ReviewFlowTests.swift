import Foundation
import Hummingbird
import HummingbirdTesting
@testable import IntentServer
import IntentStore
import Testing

/// Issue 14: reviewing one prediction at a time (auto-advance, one-click alternatives, skip,
/// undo), identical utterances and bulk confirm, forms that keep what was typed, logins that
/// return to the work, and HTML error pages for browsers.
@Suite struct ReviewFlowTests {
    static func predict(_ client: any TestClientProtocol, _ token: String, _ texts: [String]) async throws -> [String] {
        var ids: [String] = []
        for text in texts {
            let r = try await client.call(.post, "/v1/predict", token: token, json: #"{"text": \#(HostileInputTests.quoted(text))}"#)
            ids.append(try #require(r.object["id"] as? String))
        }
        return ids
    }

    /// Every prediction in the queue, whatever the model's confidence.
    static func showEverything(_ c: inout ServerConfiguration) { c.reviewConfidentAbove = nil }

    /// A form POST with repeated fields (the queue's checkboxes), which `Browser.post`'s dictionary cannot carry.
    static func postRaw(_ client: any TestClientProtocol, _ browser: inout Browser, _ uri: String, _ pairs: [(String, String)]) async throws -> TestResponse {
        var h = browser.headers()
        h[.contentType] = "application/x-www-form-urlencoded"
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_.~"))
        let body = pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        let r = try await client.execute(uri: uri, method: .post, headers: h, body: ByteBuffer(string: body))
        browser.absorb(r)
        return r
    }

    @Test func reviewWalksTheQueueWithOneClickVerdictsSkipAndUndo() async throws {
        try await Fixture.withApp(configure: Self.showEverything) { client, store, creds in
            _ = try await Self.predict(client, creds.clientToken, ["where is my parcel", "refund my card", "cancel the order please"])
            let order = try await store.reviewQueue(QueueFilter()).map { $0.id.uuidString.lowercased() }
            #expect(order.count == 3)
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            let first = try await browser.get(client, "/review")
            #expect(first.status == .ok)
            #expect(first.text.contains("id=\"position\">1</strong> of <strong id=\"queue-total\">3</strong>"))
            #expect(first.text.contains("/predictions/\(order[0])/feedback"), "the queue's first item")
            #expect(first.text.contains("<script src=\"/static/review.js\""))
            let csrf = try #require(Browser.hidden("csrf", in: first.text))

            // One click on the second alternative: a correction, and on to the next item.
            let p0 = try #require(try await store.prediction(id: UUID(uuidString: order[0])!))
            let alternative = try #require(p0.topK.dropFirst().first).intent
            #expect(first.text.contains("id=\"alt-2\" data-key=\"2\""))
            let picked = try await browser.post(client, "/predictions/\(order[0])/feedback",
                                                form: ["verdict": "correct", "intent": alternative, "csrf": csrf, "return": "/review"])
            #expect(picked.status == .seeOther)
            let next = try #require(picked.headers[.location])
            #expect(next == "/review?last=\(order[0])")
            let stored = try #require(try await store.feedback(predictionID: p0.id))
            #expect(stored.verdict == .correct && stored.intent == alternative && stored.predictedIntent == p0.intent)
            let second = try await browser.get(client, next)
            #expect(second.text.contains("Saved: correct as \(alternative)."), "the flash notice")
            #expect(second.text.contains("id=\"position\">1</strong> of <strong id=\"queue-total\">2</strong>"))
            #expect(second.text.contains("/predictions/\(order[1])/feedback\""), "auto-advanced to the next in queue order")
            #expect(second.text.contains("action=\"/predictions/\(order[0])/feedback/undo\""), "undo offered for the last verdict")

            // Skip: the next one, the skipped one stays in the queue.
            let skipped = try await browser.get(client, "/review?offset=1")
            #expect(skipped.text.contains("id=\"position\">2</strong> of <strong id=\"queue-total\">2</strong>"))
            #expect(skipped.text.contains("/predictions/\(order[2])/feedback\""))
            #expect(try await store.feedback(predictionID: UUID(uuidString: order[1])!) == nil)

            // Undo: the verdict is gone, audited, and the prediction is back in the queue.
            let undone = try await browser.post(client, "/predictions/\(order[0])/feedback/undo", form: ["csrf": csrf, "return": "/review?last=\(order[0])"])
            #expect(undone.status == .seeOther && undone.headers[.location] == "/review")
            #expect(try await store.feedback(predictionID: p0.id) == nil)
            #expect(try await store.scalar("SELECT count(*) FROM audit_events WHERE action = 'feedback.undo' AND subject = '\(order[0])'") == 1)
            #expect(try await store.reviewQueueCount(QueueFilter()) == 3)
            let again = try await browser.post(client, "/predictions/\(order[0])/feedback/undo", form: ["csrf": csrf, "return": "/review"])
            #expect(again.status == .seeOther)
            #expect(try await browser.get(client, "/review").text.contains("Nothing to undo"))

            // Confirm, by the confirm form, until the queue is empty.
            for id in order {
                let r = try await browser.post(client, "/predictions/\(id)/feedback", form: ["verdict": "confirm", "csrf": csrf, "return": "/review"])
                #expect(r.status == .seeOther)
            }
            let done = try await browser.get(client, "/review")
            #expect(done.text.contains("id=\"done\""))
            #expect(try await store.reviewQueueCount(QueueFilter()) == 0)
        }
    }

    @Test func aFailedVerdictComesBackWithWhatWasTyped() async throws {
        try await Fixture.withApp(configure: Self.showEverything) { client, store, creds in
            let id = try await Self.predict(client, creds.clientToken, ["my coupon code fails"])[0]
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            let page = try await browser.get(client, "/review")
            let csrf = try #require(Browser.hidden("csrf", in: page.text))
            let form = ["verdict": "correct", "intent": "apply_coupon", "note": "customer <b>angry</b>", "csrf": csrf, "return": "/review"]
            let unknown = try await browser.post(client, "/predictions/\(id)/feedback", form: form)
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.text.contains("value=\"apply_coupon\"") && unknown.text.contains("value=\"customer &lt;b&gt;angry&lt;/b&gt;\""))
            #expect(unknown.text.contains("tick “It is a new intent” to propose it"))
            #expect(unknown.text.contains("aria-describedby=\"intent-error\""))
            #expect(Browser.hidden("return", in: unknown.text) == "/review", "still in the review walk")
            // An expired form token: the same, with a fresh token, nothing stored.
            var forged = form
            forged["csrf"] = "stale"
            let stale = try await browser.post(client, "/predictions/\(id)/feedback", form: forged)
            #expect(stale.status == .forbidden && stale.text.contains("The form had expired") && stale.text.contains("value=\"apply_coupon\""))
            #expect(try await store.feedback(predictionID: UUID(uuidString: id)!) == nil)
            // Ticking "new intent" stores it.
            var propose = form
            propose["propose"] = "1"
            #expect(try await browser.post(client, "/predictions/\(id)/feedback", form: propose).status == .seeOther)
            #expect(try await store.intentStatus("apply_coupon") == .proposed)
        }
    }

    @Test func anExpiredSessionKeepsTheWorkThroughLogin() async throws {
        try await Fixture.withApp(configure: Self.showEverything) { client, store, creds in
            let id = try await Self.predict(client, creds.clientToken, ["where is my parcel"])[0]
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            let page = try await browser.get(client, "/review")
            let csrf = try #require(Browser.hidden("csrf", in: page.text))
            try await store.deleteSession(token: try #require(browser.cookies["il_session"]))
            let sent = try await browser.post(client, "/predictions/\(id)/feedback",
                                              form: ["verdict": "correct", "intent": "cancel_order", "note": "typed before expiry", "csrf": csrf, "return": "/review"])
            #expect(sent.status == .seeOther)
            let toLogin = try #require(sent.headers[.location])
            #expect(toLogin.hasPrefix("/login?next="))
            let login = try await browser.get(client, toLogin)
            let next = try #require(Browser.hidden("next", in: login.text)).replacingOccurrences(of: "&amp;", with: "&")
            #expect(next.hasPrefix("/predictions/\(id)?"))
            let token = try #require(Browser.hidden("csrf", in: login.text))
            let in_ = try await browser.post(client, "/login", form: ["username": "agent", "password": creds.agentPassword, "csrf": token, "next": next])
            #expect(in_.status == .seeOther && in_.headers[.location] == next)
            let back = try await browser.get(client, next)
            #expect(back.text.contains("value=\"cancel_order\"") && back.text.contains("value=\"typed before expiry\""))
            #expect(Browser.hidden("return", in: back.text) == "/review")
            #expect(try await store.feedback(predictionID: UUID(uuidString: id)!) == nil, "nothing stored without a session")
            // A deep link survives the login too.
            var fresh = Browser()
            let deep = try await fresh.get(client, "/queue?min=0.1")
            #expect(deep.headers[.location] == "/login?next=/queue?min%3D0.1")
        }
    }

    @Test func undoIsOnlyForTheAgentsOwnRecentVerdict() async throws {
        try await Fixture.withApp(configure: { $0.reviewConfidentAbove = nil; $0.undoWindow = .milliseconds(300) }) { client, store, creds in
            let ids = try await Self.predict(client, creds.clientToken, ["where is my parcel", "refund my card"])
            _ = try await store.createUser(username: "agent2", role: .agent, passwordHash: try await Passwords.hash("agent2-password"))
            var a = Browser(), b = Browser()
            _ = try await a.logIn(client, username: "agent", password: creds.agentPassword)
            _ = try await b.logIn(client, username: "agent2", password: "agent2-password")
            let csrfA = try #require(Browser.hidden("csrf", in: try await a.get(client, "/review").text))
            let csrfB = try #require(Browser.hidden("csrf", in: try await b.get(client, "/review").text))
            #expect(try await a.post(client, "/predictions/\(ids[0])/feedback", form: ["verdict": "confirm", "csrf": csrfA, "return": "/review"]).status == .seeOther)
            _ = try await b.post(client, "/predictions/\(ids[0])/feedback/undo", form: ["csrf": csrfB, "return": "/review"])
            #expect(try await store.feedback(predictionID: UUID(uuidString: ids[0])!) != nil, "another agent cannot undo it")
            try await Task.sleep(for: .milliseconds(400))
            _ = try await a.post(client, "/predictions/\(ids[0])/feedback/undo", form: ["csrf": csrfA, "return": "/review"])
            #expect(try await store.feedback(predictionID: UUID(uuidString: ids[0])!) != nil, "too late")
            #expect(try await store.scalar("SELECT count(*) FROM audit_events WHERE action = 'feedback.undo'") == 0)
            // An undone proposal that only this verdict made is withdrawn with it.
            #expect(try await a.post(client, "/predictions/\(ids[1])/feedback",
                                     form: ["verdict": "correct", "intent": "lost_card", "propose": "1", "csrf": csrfA, "return": "/review"]).status == .seeOther)
            #expect(try await store.intentStatus("lost_card") == .proposed)
            #expect(try await a.post(client, "/predictions/\(ids[1])/feedback/undo", form: ["csrf": csrfA, "return": "/review"]).status == .seeOther)
            #expect(try await store.intentStatus("lost_card") == nil)
            #expect(try await store.feedback(predictionID: UUID(uuidString: ids[1])!) == nil)
        }
    }

    @Test func identicalUtterancesAreGroupedAndRowsConfirmedTogether() async throws {
        try await Fixture.withApp(configure: Self.showEverything) { client, store, creds in
            let ids = try await Self.predict(client, creds.clientToken,
                                             ["where is my parcel", "where is my parcel", "where is my parcel", "refund my card", "cancel the order"])
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            let queue = try await browser.get(client, "/queue")
            #expect(queue.text.contains("+2 identical"))
            #expect(queue.text.components(separatedBy: ">where is my parcel</a>").count == 2, "one row for the three")
            #expect(queue.text.contains("id=\"total\">5</strong>"))
            let csrf = try #require(Browser.hidden("csrf", in: queue.text))
            let page = try await browser.get(client, "/predictions/\(ids[0])")
            #expect(page.text.contains("2 identical unreviewed"))
            let r = try await browser.post(client, "/predictions/\(ids[0])/feedback",
                                           form: ["verdict": "correct", "intent": "cancel_order", "group": "1", "csrf": csrf, "return": "/review"])
            #expect(r.status == .seeOther)
            for id in ids.prefix(3) {
                let f = try #require(try await store.feedback(predictionID: UUID(uuidString: id)!), "stored per prediction")
                #expect(f.intent == "cancel_order")
            }
            // Bulk confirm of the two ticked rows, one verdict each, as predicted.
            let bulk = try await Self.postRaw(client, &browser, "/queue/confirm", [("csrf", csrf), ("return", "/queue"), ("id", ids[3]), ("id", ids[4])])
            #expect(bulk.status == .seeOther && bulk.headers[.location] == "/queue")
            #expect(try await browser.get(client, "/queue").text.contains("Confirmed 2 predictions."))
            for id in ids.suffix(2) {
                let f = try #require(try await store.feedback(predictionID: UUID(uuidString: id)!))
                #expect(f.verdict == .confirm && f.intent == f.predictedIntent)
            }
            // Hostile selections: not ids, too many, a stale token.
            let junk = try await Self.postRaw(client, &browser, "/queue/confirm", [("csrf", csrf), ("id", "../../etc"), ("id", ids[0])])
            #expect(junk.status == .seeOther)
            #expect(try await browser.get(client, "/queue").text.contains("each a prediction"))
            let many = try await Self.postRaw(client, &browser, "/queue/confirm", [("csrf", csrf)] + (0..<201).map { _ in ("id", UUID().uuidString) })
            #expect(many.status == .seeOther)
            let stale = try await Self.postRaw(client, &browser, "/queue/confirm", [("csrf", "x"), ("id", ids[0])])
            #expect(stale.status == .seeOther)
            #expect(try await browser.get(client, "/queue").text.contains("The form had expired"))
        }
    }

    /// Review found: identical utterances sent in one request tie on margin and time, and the
    /// walk by offset showed some items many times and never reached others.
    @Test func skippingReachesEveryItemOnceWhenItemsTie() async throws {
        try await Fixture.withApp(configure: Self.showEverything) { client, store, creds in
            let texts = Array(repeating: "where is my parcel", count: 7) + ["refund my card"]
            let r = try await client.call(.post, "/v1/predict", token: creds.clientToken,
                                          json: "{\"texts\": [" + texts.map { HostileInputTests.quoted($0) }.joined(separator: ",") + "]}")
            #expect(r.status == .ok)
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            var seen: [String] = []
            for offset in 0..<texts.count {
                let page = try await browser.get(client, "/review?offset=\(offset)")
                let marker = "action=\"/predictions/"
                let id = try #require(page.text.components(separatedBy: marker).dropFirst().first?.prefix(36)).description
                seen.append(id)
            }
            #expect(Set(seen).count == texts.count, "every item once: \(seen)")
            let order = try await store.reviewQueue(QueueFilter()).map { $0.id.uuidString.lowercased() }
            #expect(seen == order, "the walk is the queue's order")
        }
    }

    /// Review found: a verdict could land on a proposal an admin merged away at the same moment.
    @Test func verdictsNamingAProposalNeverLandOnItAfterItsMerge() async throws {
        try await Fixture.withApp(configure: Self.showEverything) { _, store, _ in
            let agent = try #require(try await store.user(named: "agent"))
            let admin = try #require(try await store.user(named: "admin"))
            _ = try await store.submit(text: "gift wrap it please", intent: "gift_wrap", agentID: agent.id, propose: true)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask { _ = try? await store.submit(text: "wrap it \(i)", intent: "gift_wrap", agentID: agent.id) }
                    if i == 5 { group.addTask { _ = try await store.mergeProposedIntent("gift_wrap", into: "cancel_order", by: admin.id) } }
                }
                try await group.waitForAll()
            }
            #expect(try await store.intentStatus("gift_wrap") == .rejected)
            #expect(try await store.scalar("SELECT count(*) FROM feedback WHERE intent = 'gift_wrap'") == 0,
                    "every verdict either moved with the merge or was refused after it")
        }
    }

    @Test func aNoteTooLongIsRefusedNotCutAndLinksNeverTickTheGroupBox() async throws {
        try await Fixture.withApp(configure: Self.showEverything) { client, store, creds in
            let ids = try await Self.predict(client, creds.clientToken, ["where is my parcel", "where is my parcel"])
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            let page = try await browser.get(client, "/predictions/\(ids[0])?group=1&propose=1&intent=x")
            #expect(page.text.contains("1 identical unreviewed"))
            #expect(!page.text.contains("name=\"group\" value=\"1\" checked"), "a link never ticks “and the identical ones”")
            let csrf = try #require(Browser.hidden("csrf", in: page.text))
            let long = String(repeating: "n", count: 2500)
            let r = try await browser.post(client, "/predictions/\(ids[0])/feedback", form: ["verdict": "confirm", "note": long, "csrf": csrf, "return": "/review"])
            #expect(r.status == .unprocessableContent && r.text.contains("id=\"note-error\"") && r.text.contains(long))
            #expect(try await store.feedback(predictionID: UUID(uuidString: ids[0])!) == nil)
        }
    }

    @Test func confidentPredictionsAreLeftOutUnlessAskedFor() async throws {
        try await Fixture.withApp(configure: { $0.reviewConfidentAbove = 0 }) { client, _, creds in
            _ = try await Self.predict(client, creds.clientToken, ["where is my parcel", "refund my card"])
            var browser = Browser()
            _ = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            let hidden = try await browser.get(client, "/queue")
            #expect(hidden.text.contains("id=\"total\">0</strong>") && hidden.text.contains("Include the confident ones"))
            let all = try await browser.get(client, "/queue?all=1")
            #expect(all.text.contains("id=\"total\">2</strong>"))
            #expect(try await browser.get(client, "/review?all=1").text.contains("of <strong id=\"queue-total\">2</strong>"))
        }
    }

    @Test func redirectsNeverLeaveTheSite() async throws {
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "evil", "/a\nLocation: x", "/\u{0}", String(repeating: "/a", count: 30_000)] {
            #expect(LocalPath.validated(bad) == nil, "\(bad.prefix(40).debugDescription)")
        }
        #expect(LocalPath.validated("/review?intent=a&offset=2") == "/review?intent=a&offset=2")
        try await Fixture.withApp { client, _, creds in
            var browser = Browser()
            let page = try await browser.get(client, "/login?next=//evil.example")
            #expect(Browser.hidden("next", in: page.text) == nil)
            let token = try #require(Browser.hidden("csrf", in: page.text))
            let r = try await browser.post(client, "/login", form: ["username": "agent", "password": creds.agentPassword, "csrf": token, "next": "//evil.example"])
            #expect(r.headers[.location] == "/queue")
            // A verdict's "return" outside the review walk is ignored.
            let id = try await Self.predict(client, creds.clientToken, ["where is my parcel"])[0]
            let csrf = try #require(Browser.hidden("csrf", in: try await browser.get(client, "/predictions/\(id)").text))
            let v = try await browser.post(client, "/predictions/\(id)/feedback", form: ["verdict": "confirm", "csrf": csrf, "return": "//evil.example/review"])
            #expect(v.headers[.location] == "/queue")
        }
    }

    @Test func browsersGetHTMLErrorPagesAndTheAPIKeepsJSON() async throws {
        try await Fixture.withApp { client, _, _ in
            let html: HTTPFields = [.accept: "text/html,application/xhtml+xml"]
            let page = try await client.execute(uri: "/no/such/page", method: .get, headers: html, body: nil)
            #expect(page.status == .notFound && page.headers[.contentType]?.hasPrefix("text/html") == true && page.text.contains("Page not found"))
            let api = try await client.execute(uri: "/v1/no-such-thing", method: .get, headers: html, body: nil)
            #expect(api.status == .notFound && api.headers[.contentType]?.hasPrefix("text/html") != true)
            let plain = try await client.execute(uri: "/no/such/page", method: .get, headers: [.accept: "application/json"], body: nil)
            #expect(plain.status == .notFound && plain.headers[.contentType]?.hasPrefix("text/html") != true)
        }
    }
}
