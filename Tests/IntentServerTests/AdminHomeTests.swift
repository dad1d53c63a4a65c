import Foundation
import Hummingbird
import HummingbirdTesting
@testable import IntentServer
import IntentStore
import LoopCore
import Logging
import PostgresNIO
import Testing

/// Issue 14, items 5 and 6: the admin home (GET /admin) and the operations metrics.
@Suite struct AdminHomeTests {
    static let adminPassword = "boss-password-1"
    static let intents = ["cancel_order", "reset_password", "track_package"]

    /// Three predictions (one batch), the first confirmed and the second corrected through the API.
    static func predictAndReview(_ client: any TestClientProtocol, _ creds: Fixture.Credentials) async throws -> [(id: String, intent: String)] {
        let p = try await client.call(.post, "/v1/predict", token: creds.clientToken,
                                      json: #"{"texts": ["where is my parcel", "cancel my order", "i forgot my password"]}"#)
        #expect(p.status == .ok)
        let predictions = (p.object["predictions"] as? [[String: Any]] ?? []).compactMap { item -> (id: String, intent: String)? in
            guard let id = item["id"] as? String, let intent = item["intent"] as? String else { return nil }
            return (id, intent)
        }
        try #require(predictions.count == 3)
        let confirm = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                            json: #"{"prediction_id": "\#(predictions[0].id)", "verdict": "confirm"}"#)
        #expect(confirm.status == .created)
        let other = try #require(intents.first { $0 != predictions[1].intent })
        let correct = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                            json: #"{"prediction_id": "\#(predictions[1].id)", "verdict": "correct", "intent": "\#(other)"}"#)
        #expect(correct.status == .created)
        return predictions
    }

    static func logInAdmin(_ client: any TestClientProtocol, _ store: Store) async throws -> Browser {
        _ = try await store.createUser(username: "boss", role: .admin, passwordHash: try await Passwords.hash(adminPassword))
        var admin = Browser()
        let login = try await admin.logIn(client, username: "boss", password: adminPassword)
        #expect(login.status == .seeOther)
        return admin
    }

    @Test func adminSeesProductionAdapterChartsBacklogAndLinks() async throws {
        try await Fixture.withApp { client, store, creds in
            var adapter = NewAdapter(version: "v-prod-7", status: .production, labels: Self.intents, files: ["adapter_config.json": Data("{}".utf8)])
            adapter.metrics = ["golden_accuracy": "0.9125", "golden_macro_f1": "0.8750", "golden_size": "40"]
            try await store.storeProductionAdapter(adapter, actor: nil)
            let predictions = try await Self.predictAndReview(client, creds)
            var admin = try await Self.logInAdmin(client, store)

            let page = try await admin.get(client, "/admin")
            #expect(page.status == .ok)
            let html = page.text
            #expect(html.contains("<p class=\"admin-figure\">v-prod-7</p>"))
            #expect(html.contains("91.3 %") || html.contains("91.2 %"), "golden accuracy as a percentage")
            #expect(html.contains("0.875"), "golden macro-F1")
            #expect(html.contains("the first adapter, trained at first start"), "how it reached production")
            // Three predictions, two reviewed: a backlog of one; two verdicts today.
            #expect(html.contains("<p class=\"admin-figure\">1</p>"))
            #expect(html.contains("<p class=\"admin-figure\">2</p>"))
            #expect(html.contains("3 predictions in the last 30 days"))
            let svgs = html.components(separatedBy: "<svg").count - 1
            #expect(svgs == 4, "volume, confidence per day, histogram, verdicts per intent")
            #expect(html.contains("chart chart-line") && html.contains("chart chart-bar"))
            #expect(!html.contains("chart-empty"))
            #expect(html.contains("<td class=\"wrap\">\(predictions[1].intent)</td>"), "the corrected prediction's intent has a row")
            for link in ["/admin/jobs", "/admin/models", "/admin/intents", "/queue"] { #expect(html.contains("href=\"\(link)\"")) }
            #expect(html.contains("<a href=\"/admin\">Admin</a>"), "the admin's navigation links home")
            // The strict CSP allows no inline style, in the page or its charts.
            #expect(page.headers[.contentSecurityPolicy]?.contains("style-src 'self'") == true)
            #expect(!html.contains("style="))
            #expect(!html.contains("<script"))
        }
    }

    @Test func onlyAdminsSeeTheAdminHome() async throws {
        try await Fixture.withApp { client, _, creds in
            var anonymous = Browser()
            let toLogin = try await anonymous.get(client, "/admin")
            #expect(toLogin.status == .seeOther)
            // To the login page, which comes back here ("/" may or may not be percent-encoded in a query).
            let location = try #require(toLogin.headers[.location])
            let next = URLComponents(string: location)?.queryItems?.first { $0.name == "next" }?.value
            #expect(location.hasPrefix("/login?") && next == "/admin")

            var agent = Browser()
            _ = try await agent.logIn(client, username: "agent", password: creds.agentPassword)
            let refused = try await agent.get(client, "/admin")
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("Admins only"))
            #expect(!refused.text.contains("Review backlog"))
            let queue = try await agent.get(client, "/queue")
            #expect(!queue.text.contains("<a href=\"/admin\">"), "agents are not offered the admin link")

            // An API token is not a session: the page answers with the login redirect.
            let token = try await client.call(.get, "/admin", token: creds.adminToken)
            #expect(token.status == .seeOther)
        }
    }

    @Test func anEmptyDatabaseRenders() async throws {
        try await Fixture.withApp { client, store, _ in
            var admin = try await Self.logInAdmin(client, store)
            let page = try await admin.get(client, "/admin")
            #expect(page.status == .ok)
            let html = page.text
            #expect(html.contains("No production adapter yet."))
            #expect(html.contains("No predictions yet in the last 30 days."))
            #expect(html.contains("No verdicts yet in the last 30 days."))
            #expect(html.contains("<p class=\"admin-figure\">0</p>"))
            #expect(!html.contains("<svg"))
        }
    }

    @Test func goldenFiguresComeFromStoredOutcomesWhenTheAdapterHasNoMetrics() async throws {
        try await Fixture.withApp { client, store, _ in
            try await store.storeProductionAdapter(NewAdapter(version: "v-first", status: .production, labels: ["a", "b"],
                                                              files: ["adapter_config.json": Data("{}".utf8)]), actor: nil)
            // Three of four right: accuracy 75 %; F1 0.8 for a, 2/3 for b: macro-F1 0.733.
            let outcomes = [("a", "a"), ("a", "a"), ("b", "b"), ("b", "a")].enumerated().map {
                AdapterOutcome(source: .golden, text: "item \($0.offset)", label: $0.element.0, predicted: $0.element.1, confidence: 0.9)
            }
            try await store.transaction { try await store.storeOutcomes(outcomes, version: "v-first", on: $0) }
            var admin = try await Self.logInAdmin(client, store)
            let html = try await admin.get(client, "/admin").text
            #expect(html.contains("<dd>75.0 %</dd>"))
            #expect(html.contains("<dd>0.733</dd>"))
            #expect(html.contains("from its stored golden-set outcomes, 4 items"))
        }
    }

    @Test func metricsCarryPredictionsFeedbackBacklogAndAdapter() async throws {
        try await Fixture.withApp { client, store, creds in
            let predictions = try await Self.predictAndReview(client, creds)
            // A submission through the web form is counted too (the middleware's task-local metrics).
            var agent = Browser()
            _ = try await agent.logIn(client, username: "agent", password: creds.agentPassword)
            let form = try await agent.get(client, "/submit")
            let csrf = try #require(Browser.hidden("csrf", in: form.text))
            let submitted = try await agent.post(client, "/submit", form: ["text": "where's my stuff", "intent": "track_package", "csrf": csrf])
            #expect(submitted.status == .seeOther)

            var text = try await client.execute(uri: "/metrics", method: .get).text
            var counts: [String: Double] = [:]
            for p in predictions { counts[p.intent, default: 0] += 1 }
            for (intent, n) in counts {
                let value = Self.sample(text, "intentloop_predictions_by_intent_total", ["adapter_version": "v-test", "intent": intent])
                #expect(value == n, "\(intent): \(n) predictions")
            }
            #expect(Self.sample(text, "intentloop_prediction_confidence_count", [:]) == 3)
            let confident = Self.sample(text, "intentloop_prediction_confidence_bucket", ["le": "1.0"])
            #expect(confident == 3)
            #expect(Self.sample(text, "intentloop_feedback_by_verdict_total", ["verdict": "confirm"]) == 1)
            #expect(Self.sample(text, "intentloop_feedback_by_verdict_total", ["verdict": "correct"]) == 1)
            #expect(Self.sample(text, "intentloop_feedback_by_verdict_total", ["verdict": "submit"]) == 1)
            #expect(Self.sample(text, "intentloop_feedback_total", [:]) == 3)
            #expect(Self.sample(text, "intentloop_adapter_info", ["version": "v-test", "role": "production"]) == 1)
            // The backlog is read on scrape (at most half a second waited for; a slower read shows on a later scrape).
            var backlog = Self.sample(text, "intentloop_review_backlog", [:])
            for _ in 0..<50 where backlog != 1 {
                try await Task.sleep(for: .milliseconds(200))
                text = try await client.execute(uri: "/metrics", method: .get).text
                backlog = Self.sample(text, "intentloop_review_backlog", [:])
            }
            #expect(backlog == 1, "three predictions, two reviewed")
            #expect(try await store.reviewBacklog() == 1)
        }
    }

    /// A database that accepts connections and never answers, with no monitor to declare the
    /// outage: the backlog read hangs, and /metrics still answers at once, scrape after scrape.
    @Test func metricsAnswerPromptlyWhileTheDatabaseHangs() async throws {
        let model = try await Fixture.servingModel()
        let hole = try BlackHole()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let client = PostgresClient(configuration: hole.configuration, backgroundLogger: logger)
        let store = Store(client: client, logger: logger)
        var config = ServerConfiguration()
        config.port = 0
        let app = try await buildApplication(configuration: config, store: store, model: model, services: [client], logger: logger)
        try await app.test(.router) { http in
            let clock = ContinuousClock()
            for _ in 0..<3 {
                let start = clock.now
                let r = try await http.execute(uri: "/metrics", method: .get)
                let elapsed = start.duration(to: clock.now)
                #expect(r.status == .ok)
                #expect(elapsed < .seconds(2))
                #expect(Self.sample(r.text, "intentloop_review_backlog", [:]) == 0)
                #expect(Self.sample(r.text, "intentloop_adapter_info", ["version": model.version, "role": "production"]) == 1)
            }
        }
    }

    // MARK: ServerMetrics without a database

    @Test func intentSeriesAreCappedAndFolded() {
        let metrics = ServerMetrics()
        let rows = (0..<(ServerMetrics.maxIntentSeries + 5)).map { i in
            PredictionRecord(id: UUID(), text: "t", adapterVersion: "v1", intent: "intent_\(i)", confidence: 0.5, margin: 0.1, topK: [],
                             latencyMs: 1, clientID: nil)
        }
        metrics.recordPredictions(rows)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        let series = text.split(separator: "\n").filter { $0.hasPrefix("intentloop_predictions_by_intent_total{") }
        #expect(series.count == ServerMetrics.maxIntentSeries + 1)
        #expect(Self.sample(text, "intentloop_predictions_by_intent_total", ["adapter_version": "v1", "intent": ServerMetrics.otherIntent]) == 5)
        #expect(Self.sample(text, "intentloop_prediction_confidence_count", [:]) == Double(rows.count))
    }

    @Test func adapterInfoFollowsSwaps() {
        let metrics = ServerMetrics()
        metrics.setAdapter("v1", role: .production)
        metrics.setAdapter("s1", role: .shadow)
        metrics.setAdapter("v2", role: .production)
        metrics.setAdapter(nil, role: .shadow)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(Self.sample(text, "intentloop_adapter_info", ["version": "v2", "role": "production"]) == 1)
        #expect(Self.sample(text, "intentloop_adapter_info", ["version": "v1", "role": "production"]) == nil, "the old version's series is gone")
        #expect(Self.sample(text, "intentloop_adapter_info", ["version": "s1", "role": "shadow"]) == nil)
    }

    @Test func aHangingBacklogReadNeitherHoldsTheScrapeNorStacksUp() async throws {
        let metrics = ServerMetrics()
        let reads = Reads()
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<3 {
            await metrics.refreshReviewBacklog(wait: .milliseconds(100)) {
                await reads.add()
                try await Task.sleep(for: .seconds(60))
                return 5
            }
        }
        let elapsed = started.duration(to: clock.now)
        #expect(elapsed < .seconds(5), "each scrape waits at most the limit")
        #expect(await reads.count == 1, "one read in flight at a time")
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(Self.sample(text, "intentloop_review_backlog", [:]) == 0)

        // A fresh value is kept for maxAge: the next scrape does not read again.
        let fresh = ServerMetrics()
        await fresh.refreshReviewBacklog { 7 }
        await fresh.refreshReviewBacklog { 8 }
        #expect(Self.sample(String(decoding: fresh.render(), as: UTF8.self), "intentloop_review_backlog", [:]) == 7)
    }

    actor Reads {
        var count = 0
        func add() { count += 1 }
    }

    /// The value of the sample `name{labels…}` in Prometheus text (labels in any order; exactly these).
    static func sample(_ text: String, _ name: String, _ labels: [String: String]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let rest = line.dropFirst(name.count)
            var found: [String: String] = [:]
            var valuePart = rest
            if rest.hasPrefix("{") {
                guard let close = rest.firstIndex(of: "}") else { continue }
                for pair in rest[rest.index(after: rest.startIndex)..<close].split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { continue }
                    found[String(kv[0])] = String(kv[1].dropFirst().dropLast())
                }
                valuePart = rest[rest.index(after: close)...]
            }
            guard valuePart.hasPrefix(" "), found == labels else { continue }
            return Double(valuePart.trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
