import Foundation
import Hummingbird
import HummingbirdTesting
import IntentStore
import Testing

/// A browser's cookie jar for the router test client.
struct Browser {
    var cookies: [String: String] = [:]

    mutating func absorb(_ response: TestResponse) {
        for value in response.headers[values: .setCookie] {
            let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            cookies[String(pair[0])] = pair.count > 1 ? String(pair[1]) : ""
        }
    }

    mutating func get(_ client: any TestClientProtocol, _ uri: String) async throws -> TestResponse {
        let r = try await client.execute(uri: uri, method: .get, headers: headers(), body: nil)
        absorb(r)
        return r
    }

    mutating func post(_ client: any TestClientProtocol, _ uri: String, form: [String: String]) async throws -> TestResponse {
        var h = headers()
        h[.contentType] = "application/x-www-form-urlencoded"
        var c = URLComponents()
        c.queryItems = form.map { URLQueryItem(name: $0.key, value: $0.value) }
        let body = (c.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        let r = try await client.execute(uri: uri, method: .post, headers: h, body: ByteBuffer(string: body))
        absorb(r)
        return r
    }

    func headers() -> HTTPFields {
        var h: HTTPFields = [:]
        if !cookies.isEmpty { h[.cookie] = cookies.filter { !$0.value.isEmpty }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        return h
    }

    /// The value of a hidden input named `name` on an HTML page.
    static func hidden(_ name: String, in html: String) -> String? {
        guard let r = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(html[r.upperBound...].prefix { $0 != "\"" })
    }

    mutating func logIn(_ client: any TestClientProtocol, username: String, password: String) async throws -> TestResponse {
        let page = try await get(client, "/login")
        let token = Browser.hidden("csrf", in: page.text) ?? ""
        return try await post(client, "/login", form: ["username": username, "password": password, "csrf": token])
    }
}

@Suite struct WebRoutesTests {
    @Test func agentCorrectsAPredictionThroughTheForm() async throws {
        try await Fixture.withApp { client, store, creds in
            let xss = "<script>alert(1)</script> where is my parcel"
            let p = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: "{\"text\": \"\(xss.replacingOccurrences(of: "/", with: "\\/"))\"}")
            let id = try #require(p.object["id"] as? String)
            var browser = Browser()
            #expect(try await browser.get(client, "/queue").headers[.location] == "/login")
            let login = try await browser.logIn(client, username: "agent", password: creds.agentPassword)
            #expect(login.status == .seeOther && login.headers[.location] == "/queue")
            let setCookie = login.headers[values: .setCookie].first { $0.hasPrefix("il_session=") } ?? ""
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
            let queue = try await browser.get(client, "/queue")
            #expect(queue.status == .ok)
            #expect(queue.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; where is my parcel"), "utterances are escaped")
            #expect(!queue.text.contains("<script>alert"))
            let csp = queue.headers[.contentSecurityPolicy] ?? ""
            #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe"), "scripts only from the server's own files (review.js), never inline")
            let page = try await browser.get(client, "/predictions/\(id)")
            #expect(page.status == .ok && page.text.contains("<option value=\"cancel_order\">"))
            let csrf = try #require(Browser.hidden("csrf", in: page.text))

            let forged = try await browser.post(client, "/predictions/\(id)/feedback", form: ["verdict": "correct", "intent": "cancel_order", "csrf": "forged"])
            #expect(forged.status == .forbidden)
            let missing = try await browser.post(client, "/predictions/\(id)/feedback", form: ["verdict": "correct", "intent": "cancel_order"])
            #expect(missing.status == .forbidden)
            #expect(try await store.feedback(predictionID: UUID(uuidString: id)!) == nil)

            let saved = try await browser.post(client, "/predictions/\(id)/feedback", form: ["verdict": "correct", "intent": "cancel_order", "csrf": csrf, "note": "x"])
            #expect(saved.status == .seeOther && saved.headers[.location] == "/queue")
            #expect(try await browser.get(client, "/queue").text.contains("Saved: correct as cancel_order."), "the notice, by the flash cookie")
            let stored = try #require(try await store.feedback(predictionID: UUID(uuidString: id)!))
            #expect(stored.intent == "cancel_order" && stored.verdict == .correct)
            let history = try await browser.get(client, "/history")
            #expect(history.text.contains("cancel_order"))
            let after = try await browser.get(client, "/predictions/\(id)")
            #expect(after.text.contains("Reviewed: correct"))

            let submit = try await browser.post(client, "/submit", form: ["text": "my coupon code fails", "intent": "apply_coupon", "propose": "1", "csrf": csrf])
            #expect(submit.headers[.location] == "/submit?saved=1")
            #expect(try await store.intentStatus("apply_coupon") == .proposed)
            let logout = try await browser.post(client, "/logout", form: ["csrf": csrf])
            #expect(logout.status == .seeOther)
            #expect(try await browser.get(client, "/queue").headers[.location] == "/login")
        }
    }

    @Test func loginIsRefusedWithoutTheRightPasswordOrFormToken() async throws {
        try await Fixture.withApp { client, _, creds in
            var browser = Browser()
            let wrong = try await browser.logIn(client, username: "agent", password: "not-the-password")
            #expect(wrong.status == .unauthorized && wrong.text.contains("wrong password"))
            let unknown = try await browser.logIn(client, username: "nobody", password: creds.agentPassword)
            #expect(unknown.status == .unauthorized)
            var noToken = Browser()
            let forged = try await noToken.post(client, "/login", form: ["username": "agent", "password": creds.agentPassword, "csrf": "x"])
            #expect(forged.status == .forbidden)
            #expect(noToken.cookies["il_session"] == nil)
        }
    }
}
