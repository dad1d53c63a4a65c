import Foundation
import Hummingbird
import HummingbirdTesting
import IntentData
import IntentModel
import IntentServer
import IntentStore
import IntentTestSupport
import LoopCore
import Testing
import Training
import Yams

/// The loop's controls over HTTP: the review queue as JSON (`GET /v1/queue`), one pass of the gate
/// on demand (`POST /v1/gate/run`) and evaluating a stored adapter on a labelled set
/// (`POST /v1/models/{version}/evaluate`).
@Suite(.serialized) struct LoopControlRoutesTests {
    // MARK: the document

    @Test func theOperationsAreDocumented() async throws {
        try await Fixture.withApp { client, _, _ in
            let response = try await client.execute(uri: "/openapi.yaml", method: .get)
            let document = try #require(try Yams.load(yaml: String(buffer: response.body)) as? [String: Any])
            let paths = try #require(document["paths"] as? [String: Any])
            let documented: [(String, String, [String])] = [
                ("/v1/queue", "get", ["200", "400", "401", "403", "503"]),
                ("/v1/gate/run", "post", ["200", "401", "403", "409", "503"]),
                ("/v1/models/{version}/evaluate", "post", ["200", "400", "401", "403", "404", "409", "413", "429", "503"]),
            ]
            for (path, method, statuses) in documented {
                let operation = (paths[path] as? [String: Any])?[method] as? [String: Any]
                #expect(operation != nil, "\(method.uppercased()) \(path) is documented")
                let responses = operation?["responses"] as? [String: Any] ?? [:]
                for status in statuses { #expect(responses[status] != nil, "\(path) documents \(status)") }
            }
            let queue = try #require((paths["/v1/queue"] as? [String: Any])?["get"] as? [String: Any])
            let parameters = (queue["parameters"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(parameters == ["limit", "offset", "intent", "min_confidence", "max_confidence"])
            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
            let evaluation = try #require(schemas["AdapterEvaluation"] as? [String: Any])
            #expect(Set(evaluation["required"] as? [String] ?? []) == ["adapter_version", "examples", "correct", "accuracy", "macro_f1",
                                                                      "unknown_intents", "per_intent", "seconds"])
            let item = try #require(schemas["QueueItem"] as? [String: Any])
            #expect(Set(item["required"] as? [String] ?? []) == ["id", "text", "intent", "confidence", "margin", "adapter_version", "created_at"])
        }
    }

    // MARK: GET /v1/queue

    @Test func theQueueIsTheStoresOrderAndReviewedPredictionsLeaveIt() async throws {
        try await Fixture.withApp { client, store, creds in
            let texts = ["where is my parcel", "cancel my order", "reset my password", "hello there", "my order and my password",
                         "is it shipped or cancelled", "i need help", "password for my parcel account"]
            let json = "{\"texts\": [\(texts.map { "\"\($0)\"" }.joined(separator: ", "))]}"
            let p = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: json)
            #expect(p.status == .ok, "\(p.text)")

            let r = try await client.call(.get, "/v1/queue", token: creds.agentToken)
            #expect(r.status == .ok, "\(r.text)")
            let items = try #require(r.object["predictions"] as? [[String: Any]])
            let expected = try await store.reviewQueue(QueueFilter())
            #expect(expected.count == texts.count)
            #expect(items.compactMap { $0["id"] as? String } == expected.map { $0.id.uuidString.lowercased() })
            #expect(items.compactMap { $0["text"] as? String } == expected.map(\.text))
            #expect(items.compactMap { $0["intent"] as? String } == expected.map(\.intent))
            #expect(Set(items.compactMap { $0["text"] as? String }) == Set(texts))
            #expect(items.allSatisfy { $0["adapter_version"] as? String == "v-test" && $0["created_at"] is String && $0["confidence"] is Double })
            // No shadow adapter: smallest top-1 margin first.
            let margins = items.compactMap { $0["margin"] as? Double }
            #expect(margins.count == texts.count && margins == margins.sorted(), "\(margins)")
            for (item, record) in zip(items, expected) {
                #expect(abs((item["margin"] as? Double ?? -1) - Double(record.margin)) < 1e-6)
                #expect(abs((item["confidence"] as? Double ?? -1) - Double(record.confidence)) < 1e-6)
            }

            // Paging and filters are the store's.
            let page = try await client.call(.get, "/v1/queue?limit=3&offset=2", token: creds.agentToken)
            #expect((page.object["predictions"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
                    == expected[2..<5].map { $0.id.uuidString.lowercased() })
            let intent = try #require(expected.first?.intent)
            let byIntent = try await client.call(.get, "/v1/queue?intent=\(intent)", token: creds.agentToken)
            let intentItems = try #require(byIntent.object["predictions"] as? [[String: Any]])
            #expect(intentItems.count == expected.filter { $0.intent == intent }.count && intentItems.allSatisfy { $0["intent"] as? String == intent })
            let confidences = expected.map(\.confidence).sorted()
            let threshold = confidences[confidences.count / 2]
            let confident = try await client.call(.get, "/v1/queue?min_confidence=\(threshold)", token: creds.agentToken)
            let confidentItems = try #require(confident.object["predictions"] as? [[String: Any]])
            #expect(confidentItems.count == expected.filter { $0.confidence >= threshold }.count, "\(confident.text)")
            #expect(confidentItems.count < texts.count && !confidentItems.isEmpty)
            let empty = try await client.call(.get, "/v1/queue?offset=100", token: creds.agentToken)
            #expect(empty.status == .ok && (empty.object["predictions"] as? [Any])?.isEmpty == true)

            // A reviewed prediction leaves the queue.
            let first = try #require(items.first?["id"] as? String)
            let confirm = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                                json: #"{"prediction_id": "\#(first)", "verdict": "confirm"}"#)
            #expect(confirm.status == .created, "\(confirm.text)")
            let after = try await client.call(.get, "/v1/queue", token: creds.agentToken)
            let afterIDs = try #require((after.object["predictions"] as? [[String: Any]])?.compactMap { $0["id"] as? String })
            #expect(afterIDs == Array(expected.dropFirst()).map { $0.id.uuidString.lowercased() })
            #expect(!afterIDs.contains(first))

            // Admins may read it too.
            #expect(try await client.call(.get, "/v1/queue", token: creds.adminToken).status == .ok)
        }
    }

    @Test func theQueueNeedsAnAgentAndValidParameters() async throws {
        try await Fixture.withApp { client, _, creds in
            #expect(try await client.call(.get, "/v1/queue", token: nil).status == .unauthorized)
            let forbidden = try await client.call(.get, "/v1/queue", token: creds.clientToken)
            #expect(forbidden.status == .forbidden, "\(forbidden.text)")
            let cases: [(String, String)] = [
                ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=abc", "limit"), ("offset=-1", "offset"), ("offset=100001", "offset"),
                ("intent=bad%20name", "intent"), ("intent=bad+name", "intent"), ("min_confidence=2", "min_confidence"),
                ("min_confidence=-0.1", "min_confidence"), ("max_confidence=nan", "max_confidence"), ("max_confidence=x", "max_confidence"),
            ]
            for (query, field) in cases {
                let r = try await client.call(.get, "/v1/queue?\(query)", token: creds.agentToken)
                #expect(r.status == .badRequest && r.errorField == field, "\(query) → \(r.status.code) \(r.text)")
            }
            // Bounds themselves are accepted.
            for query in ["limit=1", "limit=1000", "offset=0", "offset=100000", "min_confidence=0", "max_confidence=1", "limit=", "intent=cancel_order"] {
                let r = try await client.call(.get, "/v1/queue?\(query)", token: creds.agentToken)
                #expect(r.status == .ok, "\(query) → \(r.status.code) \(r.text)")
            }
        }
    }

    // MARK: POST /v1/gate/run

    @Test func runningTheGateMovesTheCandidateAndAnswersTheAdapters() async throws {
        let base = try await Fixture.baseModel()
        try await Fixture.withApp { client, store, creds in
            let files = try await GateFlowTests.firstAdapter(store, base: base)
            // Nothing waiting: the gate has nothing to do, and answers production alone.
            let idle = try await client.call(.post, "/v1/gate/run", token: creds.adminToken)
            #expect(idle.status == .ok, "\(idle.text)")
            #expect((idle.object["adapters"] as? [[String: Any]])?.compactMap { $0["version"] as? String } == ["v1"])

            // Passes the offline gate → shadow (as in GateFlowTests).
            try await store.setGatePolicy(GateFlowTests.quickShadowPolicy, actor: nil)
            try await GateFlowTests.candidate(store, "c2", files: files, items:
                GateFlowTests.rows(.evaluationPool, "track_package", 30, candidateRight: true, baselineRight: true)
                + GateFlowTests.rows(.evaluationPool, "reset_password", 12, candidateRight: true, baselineRight: false))
            #expect(try await store.adapter(version: "c2")?.status == .candidate)
            #expect(try await client.call(.post, "/v1/gate/run", token: creds.agentToken).status == .forbidden)
            #expect(try await client.call(.post, "/v1/gate/run", token: creds.clientToken).status == .forbidden)
            #expect(try await client.call(.post, "/v1/gate/run", token: nil).status == .unauthorized)
            #expect(try await store.adapter(version: "c2")?.status == .candidate, "refused callers ran nothing")

            let run = try await client.call(.post, "/v1/gate/run", token: creds.adminToken)
            #expect(run.status == .ok, "\(run.text)")
            let adapters = try #require(run.object["adapters"] as? [[String: Any]])
            let statuses = Dictionary(uniqueKeysWithValues: adapters.compactMap { a in (a["version"] as? String).map { ($0, a["status"] as? String ?? "") } })
            #expect(statuses == ["v1": "production", "c2": "shadow"], "\(run.text)")
            let shadow = try #require(adapters.first { $0["version"] as? String == "c2" })
            #expect((shadow["gate_report"] as? [String: Any])?["verdict"] as? String == "shadow")
            #expect(try await store.adapter(version: "c2")?.status == .shadow)

            // A regression on the golden set is rejected, so it leaves the answer (production, shadow and candidates only).
            try await store.setGatePolicy(GateFlowTests.noShadow, actor: nil)
            try await GateFlowTests.candidate(store, "c-regress", files: files, items:
                GateFlowTests.rows(.evaluationPool, "track_package", 30, candidateRight: true, baselineRight: true)
                + GateFlowTests.rows(.evaluationPool, "track_package", 14, candidateRight: true, baselineRight: false)
                + GateFlowTests.rows(.golden, "track_package", 600, candidateRight: true, baselineRight: true)
                + GateFlowTests.rows(.golden, "reset_password", 6, candidateRight: false, baselineRight: true))
            let second = try await client.call(.post, "/v1/gate/run", token: creds.adminToken)
            #expect(second.status == .ok, "\(second.text)")
            let after = (second.object["adapters"] as? [[String: Any]])?.map { "\($0["version"] ?? "")=\($0["status"] ?? "")" } ?? []
            #expect(after.sorted() == ["c2=shadow", "v1=production"], "\(second.text)")
            let regress = try #require(try await store.adapter(version: "c-regress"))
            #expect(regress.status == .rejected && regress.gateReport?.rule == "intent_recall_drop", "\(regress.statusReason)")

            // Another replica holding the gate's lock: 409, nothing decided.
            try await GateFlowTests.candidate(store, "c-locked", files: files, items: [])
            let busy = try await store.whileHoldingGateLock {
                try await client.call(.post, "/v1/gate/run", token: creds.adminToken)
            }
            #expect(busy?.status == .conflict, "\(busy?.text ?? "")")
            #expect(busy?.headers[.retryAfter] == "1")
            #expect(try await store.adapter(version: "c-locked")?.status == .candidate)
        }
    }

    // MARK: POST /v1/models/{version}/evaluate

    /// The production adapter "v1" (one epoch on the fixture's examples) stored in a server that
    /// follows the database's adapters (the gate not running); `model` is the same adapter as
    /// trained in memory, to compute what the server should answer independently of it.
    static func withEvaluatingApp(_ test: @escaping @Sendable (any TestClientProtocol, Store, Fixture.Credentials, ServingModel) async throws -> Void)
        async throws {
        let base = try await Fixture.baseModel()
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("evaluate-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        try await Fixture.withApp(configure: { config in
            var following = AdapterFollowing(base: base, cache: AdapterCache(directory: cache))
            following.runGate = false
            config.adapters = following
        }) { client, store, creds in
            let model = try await RetrainingTests.production(store, base: base, examples: Fixture.examples, version: "v1").model
            try await test(client, store, creds, model)
        }
    }

    static func jsonl(_ examples: [(String, String)]) -> String {
        examples.map { text, intent in
            let data = try! JSONSerialization.data(withJSONObject: ["text": text, "intent": intent], options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }.joined(separator: "\n") + "\n"
    }

    @Test func evaluatingTheProductionAdapterScoresWhatItPredicts() async throws {
        try await Self.withEvaluatingApp { client, _, creds, model in
            // Some the adapter surely gets right, some deliberately mislabelled, one intent it does not know.
            let set: [(String, String)] = [
                ("where is my parcel", "track_package"), ("has my package shipped yet", "track_package"), ("cancel my order", "cancel_order"),
                ("please stop my order", "cancel_order"), ("reset my password", "reset_password"), ("i forgot my password", "reset_password"),
                ("track my order please", "cancel_order"), ("password reset link please", "track_package"), ("my delivery is late", "track_package"),
                ("hello, good morning", "greet"),
            ]
            let texts = set.map(\.0)
            let predicted = try await offPool { model.classifier.predict(texts, topK: 1, batchSize: 64).map(\.intent) }
            let labels = set.map(\.1)
            let correct = zip(labels, predicted).filter { $0 == $1 }.count
            let expected = Evaluation(expected: labels, predicted: predicted)
            #expect(predicted.count == set.count && !predicted.contains("greet"))
            #expect(correct < set.count, "mislabelled examples cannot all be right")

            let r = try await client.call(.post, "/v1/models/v1/evaluate", token: creds.adminToken, json: Self.jsonl(set), contentType: "application/jsonl")
            #expect(r.status == .ok, "\(r.text)")
            let body = r.object
            #expect(body["adapter_version"] as? String == "v1")
            #expect(body["examples"] as? Int == set.count)
            #expect(body["correct"] as? Int == correct, "\(r.text) vs \(predicted)")
            #expect(body["accuracy"] as? Double == Double(correct) / Double(set.count))
            #expect(abs((body["macro_f1"] as? Double ?? -1) - expected.macroF1) < 1e-12)
            #expect(body["unknown_intents"] as? Int == 1)
            #expect((body["seconds"] as? Double).map { $0 >= 0 } == true)
            let perIntent = try #require(body["per_intent"] as? [[String: Any]])
            #expect(perIntent.compactMap { $0["intent"] as? String } == expected.perIntent.map(\.intent))
            for (got, want) in zip(perIntent, expected.perIntent) {
                #expect(got["support"] as? Int == want.support, "\(want.intent)")
                #expect(abs((got["precision"] as? Double ?? -1) - want.precision) < 1e-12, "\(want.intent)")
                #expect(abs((got["recall"] as? Double ?? -1) - want.recall) < 1e-12, "\(want.intent)")
                #expect(abs((got["f1"] as? Double ?? -1) - want.f1) < 1e-12, "\(want.intent)")
            }
            let greet = try #require(perIntent.first { $0["intent"] as? String == "greet" })
            #expect(greet["support"] as? Int == 1 && greet["recall"] as? Double == 0)
            #expect(perIntent.first { $0["intent"] as? String == "track_package" }?["support"] as? Int == 4)

            // The same set as CSV scores the same.
            let csv = "text,intent\n" + set.map { "\"\($0.0)\",\($0.1)" }.joined(separator: "\n") + "\n"
            let r2 = try await client.call(.post, "/v1/models/v1/evaluate?format=csv", token: creds.adminToken, json: csv, contentType: "text/plain")
            #expect(r2.status == .ok, "\(r2.text)")
            #expect(r2.object["correct"] as? Int == correct && r2.object["examples"] as? Int == set.count && r2.object["unknown_intents"] as? Int == 1)
        }
    }

    @Test func evaluateRefusesWhatItCannotScore() async throws {
        try await Self.withEvaluatingApp { client, store, creds, _ in
            let good = Self.jsonl([("cancel my order", "cancel_order")])
            let forbidden = try await client.call(.post, "/v1/models/v1/evaluate", token: creds.agentToken, json: good, contentType: "application/jsonl")
            #expect(forbidden.status == .forbidden, "\(forbidden.text)")
            #expect(try await client.call(.post, "/v1/models/v1/evaluate", token: creds.clientToken, json: good).status == .forbidden)
            #expect(try await client.call(.post, "/v1/models/v1/evaluate", token: nil, json: good).status == .unauthorized)

            let unknown = try await client.call(.post, "/v1/models/nope/evaluate", token: creds.adminToken, json: good, contentType: "application/jsonl")
            #expect(unknown.status == .notFound && unknown.errorField == "version", "\(unknown.text)")

            let empty = try await client.call(.post, "/v1/models/v1/evaluate", token: creds.adminToken, body: ByteBuffer(), contentType: "application/jsonl")
            #expect(empty.status == .badRequest && empty.errorField == "body", "\(empty.text)")
            let noBody = try await client.call(.post, "/v1/models/v1/evaluate", token: creds.adminToken)
            #expect(noBody.status == .badRequest && noBody.errorField == "body", "\(noBody.text)")
            let headerOnly = try await client.call(.post, "/v1/models/v1/evaluate?format=csv", token: creds.adminToken, json: "text,intent\n")
            #expect(headerOnly.status == .badRequest && headerOnly.errorField == "body", "\(headerOnly.text)")

            let malformed = good + "not json\n"
            let bad = try await client.call(.post, "/v1/models/v1/evaluate", token: creds.adminToken, json: malformed, contentType: "application/jsonl")
            #expect(bad.status == .badRequest && bad.errorField == "line 2", "\(bad.text)")
            let format = try await client.call(.post, "/v1/models/v1/evaluate?format=xml", token: creds.adminToken, json: good)
            #expect(format.status == .badRequest && format.errorField == "format", "\(format.text)")

            // An adapter without stored files cannot be loaded.
            let training = NewAdapter(version: "c-training", status: .training, labels: ["cancel_order"], files: [:])
            try await store.transaction { c in try await store.storeAdapter(training, actor: nil, on: c) }
            let unloadable = try await client.call(.post, "/v1/models/c-training/evaluate", token: creds.adminToken, json: good, contentType: "application/jsonl")
            #expect(unloadable.status == .conflict && unloadable.errorField == "version", "\(unloadable.text)")
            // Nothing was stored by any of it.
            #expect(try await store.adapters(statuses: [.production]).map(\.version) == ["v1"])
        }
    }

    @Test func evaluateNeedsAServerThatLoadsStoredAdapters() async throws {
        try await Fixture.withApp { client, _, creds in
            let good = Self.jsonl([("cancel my order", "cancel_order")])
            let r = try await client.call(.post, "/v1/models/v-test/evaluate", token: creds.adminToken, json: good, contentType: "application/jsonl")
            #expect(r.status == .serviceUnavailable, "\(r.text)")
            #expect((r.object["error"] as? [String: Any])?["code"] as? String == "unavailable")
            #expect(try await client.call(.post, "/v1/models/v-test/evaluate", token: creds.agentToken, json: good).status == .forbidden)
        }
    }

    // MARK: POST /v1/simulations

    @Test func aSimulationReportIsKeptAndDrawnOnTheModelsPage() async throws {
        try await Fixture.withApp { client, store, creds in
            let report = """
                {"settings": {"data": "d", "test": "t", "intents": 3, "bootstrap_per_intent": 5, "golden_per_intent": 2, "weeks": 1,
                  "traffic_per_week": 10, "reviews_per_week": 4, "selection": "random", "agent_noise": 0.2, "poison": "<b>a</b>:c",
                  "seed": 1, "gate_mode": "superiority", "server": "embedded"},
                 "bootstrap_version": "v1", "bootstrap": {"accuracy": 0.5, "macro_f1": 0.4}, "test_size": 9,
                 "started_at": "2026-12-02T10:00:00Z", "wall_seconds": 12,
                 "weeks": [{"week": 1, "trains": true, "feedback": 4, "corrections": 1, "production_version": "v1",
                            "production_accuracy": 0.75, "production_macro_f1": 0.7, "wall_seconds": 12}]}
                """
            #expect(try await client.call(.post, "/v1/simulations", token: creds.agentToken, json: report).status == .forbidden)
            let bad = try await client.call(.post, "/v1/simulations", token: creds.adminToken, json: #"{"settings": {}, "weeks": "no"}"#)
            #expect(bad.status == .badRequest, "\(bad.text)")
            let junk = try await client.call(.post, "/v1/simulations", token: creds.adminToken, json: "not json")
            #expect(junk.status == .badRequest)
            let nul = try await client.call(.post, "/v1/simulations", token: creds.adminToken,
                                            json: report.replacingOccurrences(of: "<b>a</b>:c", with: "a\\u0000b:c"))
            #expect(nul.status == .badRequest, "\(nul.text)")
            #expect((nul.object["error"] as? [String: Any])?["field"] as? String == "body")
            let r = try await client.call(.post, "/v1/simulations", token: creds.adminToken, json: report)
            #expect(r.status == .created, "\(r.text)")
            let runs = try await store.simulationRuns()
            #expect(runs.count == 1)
            #expect(runs.first?.summary == "3 intents, K 5, 1 weeks of 10 utterances and 4 reviews (random), agent noise 0.20, poison <b>a</b>:c: production 50.00 % → 75.00 %")

            _ = try await store.createUser(username: "boss", role: .admin, passwordHash: try await Passwords.hash("boss-password-1"))
            var admin = Browser()
            _ = try await admin.logIn(client, username: "boss", password: "boss-password-1")
            let page = try await admin.get(client, "/admin/models")
            #expect(page.status == .ok)
            #expect(page.text.contains("Latest simulation"))
            #expect(page.text.contains("&lt;b&gt;a&lt;/b&gt;:c"))
            #expect(!page.text.contains("<b>a</b>"))
            #expect(page.text.contains("<svg") && page.text.contains("random: production"))
        }
    }
}
