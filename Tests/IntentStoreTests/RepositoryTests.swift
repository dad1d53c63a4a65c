import Foundation
import IntentData
import IntentStore
import IntentTestSupport
import LoopCore
import PostgresNIO
import Testing

func prediction(_ text: String, intent: String, margin: Float, confidence: Float = 0.5, at date: Date = Date()) -> PredictionRecord {
    PredictionRecord(id: UUID(), text: text, adapterVersion: "v-test", intent: intent, confidence: confidence, margin: margin,
                     topK: [.init(intent: intent, confidence: confidence)], latencyMs: 1, clientID: nil, createdAt: date)
}

@Suite struct ExampleRepositoryTests {
    @Test func importIsAllOrNothingAndCountsDuplicates() async throws {
        try await TestDatabase.withStore { store in
            let good = [LabelledExample(text: "where is my order", intent: "track"), LabelledExample(text: "cancel it", intent: "cancel")]
            let bad = good + [LabelledExample(text: "x", intent: "not a valid name!")]
            await #expect { try await store.importExamples(bad, kind: .training, actor: nil) } throws: { ($0 as? StoreError)?.field == "intent" }
            #expect(try await store.exampleCount(kind: .training) == 0)
            #expect(try await store.intents().isEmpty)
            let first = try await store.importExamples(good, kind: .training, actor: nil)
            #expect(first == ImportSummary(received: 2, inserted: 2, duplicates: 0, newIntents: ["cancel", "track"]))
            let again = try await store.importExamples(good + [LabelledExample(text: "stop my order", intent: "cancel")], kind: .training, actor: nil)
            #expect(again.inserted == 1 && again.duplicates == 2 && again.newIntents.isEmpty)
            #expect(try await store.examples(kind: .training).count == 3)
            _ = try await store.importExamples([LabelledExample(text: "where's the parcel", intent: "track")], kind: .golden, actor: nil)
            #expect(try await store.examples(kind: .golden) == [LabelledExample(text: "where's the parcel", intent: "track")])
            #expect(try await store.intents().map(\.examples) == [2, 1])
        }
    }
}

@Suite struct PredictionRepositoryTests {
    @Test func reviewQueueIsMostUncertainFirstWithFilters() async throws {
        try await TestDatabase.withStore { store in
            let old = Date().addingTimeInterval(-3 * 86400)
            let rows = [
                prediction("a", intent: "track", margin: 0.5, confidence: 0.7),
                prediction("b", intent: "cancel", margin: 0.05, confidence: 0.4),
                prediction("c", intent: "track", margin: 0.2, confidence: 0.55, at: old),
            ]
            try await store.insertPredictions(rows)
            #expect(try await store.predictionCount() == 3)
            #expect(try await store.reviewQueue(QueueFilter()).map(\.text) == ["b", "c", "a"])
            var f = QueueFilter()
            f.intent = "track"
            #expect(try await store.reviewQueue(f).map(\.text) == ["c", "a"])
            f = QueueFilter()
            f.from = Date().addingTimeInterval(-86400)
            #expect(try await store.reviewQueue(f).map(\.text) == ["b", "a"])
            f = QueueFilter()
            f.minConfidence = 0.5
            f.maxConfidence = 0.6
            #expect(try await store.reviewQueue(f).map(\.text) == ["c"])
            let stored = try #require(try await store.prediction(id: rows[1].id))
            #expect(stored.text == "b" && stored.topK == rows[1].topK && stored.margin == 0.05)

            // Where the shadow adapter disagrees, the verdict decides the gate's test: those come first.
            try await store.storeProductionAdapter(NewAdapter(version: "p", status: .production, labels: ["cancel", "track"], files: ["a": Data([1])]),
                                                   actor: nil)
            let shadow = NewAdapter(version: "s", status: .shadow, labels: ["cancel", "track"], files: ["a": Data([2])])
            try await store.transaction { c in try await store.storeAdapter(shadow, actor: nil, on: c) }
            try await store.insertShadowPredictions([
                ShadowPrediction(predictionID: rows[0].id, adapterVersion: "s", intent: "cancel", confidence: 0.6),  // disagrees
                ShadowPrediction(predictionID: rows[2].id, adapterVersion: "s", intent: "track", confidence: 0.6),  // agrees
            ])
            #expect(try await store.reviewQueue(QueueFilter()).map(\.text) == ["a", "b", "c"])
            try await store.transitionAdapter("s", .rejected("test"), actor: .gate)
            #expect(try await store.reviewQueue(QueueFilter()).map(\.text) == ["b", "c", "a"], "only the shadow running now reorders the queue")
        }
    }
}

@Suite struct FeedbackRepositoryTests {
    @Test func verdictsAreValidatedAndStoredOnce() async throws {
        try await TestDatabase.withStore { store in
            _ = try await store.importExamples([LabelledExample(text: "where is it", intent: "track"), LabelledExample(text: "cancel", intent: "cancel")],
                                               kind: .training, actor: nil)
            let agent = try await store.createUser(username: "ann", role: .agent, passwordHash: "x")
            let p = prediction("where's my stuff", intent: "cancel", margin: 0.1)
            try await store.insertPredictions([p])
            await #expect { try await store.review(predictionID: UUID(), agentID: agent.id, verdict: .confirm, intent: nil) } throws: {
                ($0 as? StoreError)?.code == .notFound && ($0 as? StoreError)?.field == "prediction_id"
            }
            await #expect { try await store.review(predictionID: p.id, agentID: agent.id, verdict: .correct, intent: "nope") } throws: {
                ($0 as? StoreError)?.field == "intent"
            }
            await #expect { try await store.review(predictionID: p.id, agentID: agent.id, verdict: .confirm, intent: "track") } throws: {
                ($0 as? StoreError)?.field == "intent"
            }
            let f = try await store.review(predictionID: p.id, agentID: agent.id, verdict: .correct, intent: "track", note: "obvious")
            #expect(f.intent == "track" && f.predictedIntent == "cancel")
            await #expect { try await store.review(predictionID: p.id, agentID: agent.id, verdict: .confirm, intent: nil) } throws: {
                ($0 as? StoreError)?.code == .conflict
            }
            #expect(try await store.reviewQueue(QueueFilter()).isEmpty, "reviewed predictions leave the queue")
            #expect(try await store.feedback(predictionID: p.id) == f)
            let submitted = try await store.submit(text: "I want a refund", intent: "refund", agentID: agent.id, propose: true)
            #expect(submitted.verdict == .submit)
            #expect(try await store.intentStatus("refund") == .proposed)
            #expect(!(try await store.intents()).map(\.name).contains("refund"), "proposed intents wait for an admin")
            let admin = try await store.createUser(username: "root", role: .admin, passwordHash: "x")
            try await store.decideIntent("refund", approve: true, by: admin.id)
            #expect(try await store.intents().map(\.name).contains("refund"))
            #expect(try await store.history(agentID: agent.id).map(\.verdict) == [.submit, .correct])
        }
    }
}

@Suite struct UserRepositoryTests {
    @Test func sessionsAndTokensAreStoredHashed() async throws {
        try await TestDatabase.withStore { store in
            let user = try await store.createUser(username: "bot", role: .client, passwordHash: nil)
            await #expect { try await store.createUser(username: "bot", role: .agent, passwordHash: nil) } throws: { ($0 as? StoreError)?.code == .conflict }
            await #expect { try await store.createUser(username: "has space", role: .agent, passwordHash: nil) } throws: { ($0 as? StoreError)?.field == "username" }
            let token = try await store.createAPIToken(userID: user.id, name: "ci")
            #expect(try await store.user(apiToken: token)?.id == user.id)
            #expect(try await store.user(apiToken: token + "x") == nil)
            let other = try await store.createAPIToken(userID: user.id, name: "other")
            #expect(try await store.revokeAPITokens(userID: user.id, name: "ci") == 1)
            #expect(try await store.user(apiToken: token) == nil, "a revoked token no longer authenticates")
            #expect(try await store.user(apiToken: other)?.id == user.id, "only the named token is revoked")
            #expect(try await store.revokeAPITokens(userID: user.id, name: nil) == 1)
            #expect(try await store.user(apiToken: other) == nil)
            let session = try await store.createSession(userID: user.id)
            #expect(try await store.session(token: session.token)?.csrfToken == session.csrf)
            let expired = try await store.createSession(userID: user.id, lifetime: -1)
            #expect(try await store.session(token: expired.token) == nil)
            let rows = try await store.client.query("""
                SELECT count(*) FILTER (WHERE token_hash = convert_to(\(token), 'UTF8')),
                       count(*) FILTER (WHERE token_hash = sha256(convert_to(\(token), 'UTF8'))) FROM api_tokens
                """)
            for try await (plain, hashed) in rows.decode((Int64, Int64).self) { #expect(plain == 0 && hashed == 1) }
            try await store.deleteSession(token: session.token)
            #expect(try await store.session(token: session.token) == nil)
        }
    }
}
