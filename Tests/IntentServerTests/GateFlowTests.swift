import Foundation
import Hummingbird
import HummingbirdTesting
import IntentData
import IntentModel
import IntentServer
import IntentStore
import IntentTestSupport
import Logging
import PostgresNIO
import LoopCore
import Testing
import Training

/// The gate against a real database: candidates with stored per-item outcomes go through
/// `GateKeeper` (offline gate, shadow on live traffic, promotion), replicas follow promotions and
/// rollbacks, and the models API answers for all of it.
@Suite(.serialized) struct GateFlowTests {
    static let logger: Logger = {
        var l = Logger(label: "test")
        l.logLevel = .warning
        return l
    }()

    /// A one-epoch adapter on the fixture's three intents, stored as production "v1"; returns its files.
    static func firstAdapter(_ store: Store, base: BaseModel) async throws -> [String: Data] {
        try await RetrainingTests.production(store, base: base, examples: Fixture.examples, version: "v1").files
    }

    /// Stores a candidate (parent v1) with the outcomes both adapters had on the evaluation items:
    /// each tuple is (source, label, candidate's prediction, v1's prediction).
    static func candidate(_ store: Store, _ version: String, files: [String: Data], parent: String = "v1",
                          items: [(AdapterOutcome.Source, String, String, String)]) async throws {
        var adapter = NewAdapter(version: version, status: .candidate, labels: Set(Fixture.examples.map(\.intent)).sorted(), files: files)
        adapter.parentVersion = parent
        adapter.feedbackRange = 1...10
        let rows = items.enumerated().map { i, item in
            (AdapterOutcome(source: item.0, text: "utterance \(i)", label: item.1, predicted: item.2, confidence: 0.9),
             AdapterOutcome(source: item.0, text: "utterance \(i)", label: item.1, predicted: item.3, confidence: 0.9))
        }
        let stored = adapter
        try await store.transaction { c in
            try await store.storeAdapter(stored, actor: nil, on: c)
            try await store.storeOutcomes(rows.map(\.0), version: version, on: c)
            try await store.storeOutcomes(rows.map(\.1), version: parent, on: c)
        }
    }

    /// (source, label, candidate, baseline) rows: `n` of one kind.
    /// Every prediction shadowed; the shadow phase ends after 5 of them; 20 paired items promote.
    static var quickShadowPolicy: GatePolicy {
        var policy = GatePolicy()
        policy.shadowSampleRate = 1
        policy.minimumShadowHours = 0
        policy.minimumShadowPredictions = 5
        policy.minimumPairedSamples = 20
        return policy
    }

    static func rows(_ source: AdapterOutcome.Source, _ label: String, _ n: Int, candidateRight: Bool, baselineRight: Bool)
        -> [(AdapterOutcome.Source, String, String, String)] {
        Array(repeating: (source, label, candidateRight ? label : "cancel_order", baselineRight ? label : "cancel_order"), count: n)
    }

    static var noShadow: GatePolicy {
        var p = GatePolicy()
        p.minimumShadowHours = 0
        p.minimumShadowPredictions = 0
        p.minimumPairedSamples = 20
        return p
    }

    @Test func theGateRejectsARegressionAnEqualCandidateAndAStaleOne() async throws {
        let base = try await Fixture.baseModel()
        try await TestDatabase.withStore { store in
            let files = try await Self.firstAdapter(store, base: base)
            try await store.setGatePolicy(Self.noShadow, actor: nil)
            let gate = GateKeeper(store: store, logger: Self.logger)

            // Better on the evaluation pool (14 fixed, none broken), but reset_password collapses on the golden set.
            try await Self.candidate(store, "c-regress", files: files, items:
                Self.rows(.evaluationPool, "track_package", 30, candidateRight: true, baselineRight: true)
                + Self.rows(.evaluationPool, "track_package", 14, candidateRight: true, baselineRight: false)
                + Self.rows(.golden, "track_package", 600, candidateRight: true, baselineRight: true)
                + Self.rows(.golden, "reset_password", 6, candidateRight: false, baselineRight: true))
            try await gate.decideAll()
            let regress = try #require(try await store.adapter(version: "c-regress"))
            #expect(regress.status == .rejected && regress.gateReport?.rule == "intent_recall_drop", "\(regress.statusReason)")
            #expect(regress.statusReason.contains("recall of reset_password on the golden set fell 100.0 % → 0.0 %"))

            // Equal: as many fixed as broken.
            try await Self.candidate(store, "c-equal", files: files, items:
                Self.rows(.evaluationPool, "track_package", 40, candidateRight: true, baselineRight: true)
                + Self.rows(.evaluationPool, "track_package", 5, candidateRight: true, baselineRight: false)
                + Self.rows(.evaluationPool, "cancel_order", 5, candidateRight: false, baselineRight: true))
            try await gate.decideAll()
            let equal = try #require(try await store.adapter(version: "c-equal"))
            #expect(equal.status == .rejected && equal.gateReport?.rule == "not_better")
            #expect(try await store.productionAdapter()?.version == "v1")

            // Trained against an adapter that no longer serves.
            try await Self.candidate(store, "c-stale", files: files, parent: "c-equal", items: [])
            try await gate.decideAll()
            #expect(try await store.adapter(version: "c-stale")?.statusReason.contains("production is now v1") == true)

            // A significant gain is promoted, in one transaction with its deployment record.
            try await Self.candidate(store, "c-better", files: files, items:
                Self.rows(.evaluationPool, "track_package", 30, candidateRight: true, baselineRight: true)
                + Self.rows(.evaluationPool, "reset_password", 12, candidateRight: true, baselineRight: false)
                + Self.rows(.golden, "track_package", 50, candidateRight: true, baselineRight: true))
            try await gate.decideAll()
            #expect(try await store.productionAdapter()?.version == "c-better")
            #expect(try await store.adapter(version: "v1")?.status == .retired)
            let deployment = try #require(try await store.deployments().first)
            #expect(deployment.action == "promote" && deployment.adapterVersion == "c-better" && deployment.previousVersion == "v1")
            #expect(deployment.actorName == "gate" && deployment.reason.hasPrefix("significant_gain"))
        }
    }

    /// A candidate passes the offline gate, shadows live traffic (its predictions stored beside
    /// the served ones, agents' verdicts pairing them), is promoted, and the replica switches to
    /// it without a restart; a rollback through the API switches back.
    @Test func shadowPromotionAndRollbackOnALiveServer() async throws {
        let base = try await Fixture.baseModel()
        try await TestDatabase.withStore { store in
            _ = try await store.importExamples(Fixture.examples, kind: .training, actor: nil)
            let files = try await Self.firstAdapter(store, base: base)
            let client = try await store.createUser(username: "client", role: .client, passwordHash: nil)
            let agent = try await store.createUser(username: "agent", role: .agent, passwordHash: nil)
            let admin = try await store.createUser(username: "admin", role: .admin, passwordHash: nil)
            let clientToken = try await store.createAPIToken(userID: client.id, name: "t")
            let agentToken = try await store.createAPIToken(userID: agent.id, name: "t")
            let adminToken = try await store.createAPIToken(userID: admin.id, name: "t")
            try await store.setGatePolicy(Self.quickShadowPolicy, actor: nil)
            try await Self.candidate(store, "c2", files: files, items:
                Self.rows(.evaluationPool, "track_package", 30, candidateRight: true, baselineRight: true)
                + Self.rows(.evaluationPool, "reset_password", 12, candidateRight: true, baselineRight: false))

            let cache = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: cache) }
            let model = try await Bootstrap.load(try #require(try await store.productionAdapter()), store: store, base: base,
                                                 cache: AdapterCache(directory: cache))
            var config = ServerConfiguration()
            config.port = 0
            var following = AdapterFollowing(base: base, cache: AdapterCache(directory: cache))
            following.runGate = false  // decided by hand below
            following.pollInterval = .seconds(1)
            config.adapters = following
            let app = try await buildApplication(configuration: config, store: store, model: model, logger: Self.logger)
            let gate = GateKeeper(store: store, logger: Self.logger)

            try await app.test(.live) { http in
                func predict(_ text: String) async throws -> (id: String, version: String, intent: String) {
                    let p = try await http.call(.post, "/v1/predict", token: clientToken, json: #"{"text": "\#(text)"}"#)
                    #expect(p.status == .ok, "\(p.text)")
                    return (p.object["id"] as? String ?? "", p.object["adapter_version"] as? String ?? "", p.object["intent"] as? String ?? "")
                }
                /// Predicts until the replica serves `version` (within 20 s).
                func waitForServing(_ version: String) async throws -> Bool {
                    for i in 0..<200 {
                        if try await predict("is it served yet \(i)").version == version { return true }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return false
                }
                #expect(try await predict("where is my parcel").version == "v1")

                try await gate.decideAll()
                #expect(try await store.adapter(version: "c2")?.status == .shadow)
                #expect(try await store.adapter(version: "c2")?.gateReport?.verdict == .shadow)

                // Live traffic: the shadow adapter classifies every prediction off the request path.
                var served: [(id: String, version: String, intent: String)] = []
                var shadowed = 0
                for i in 0..<100 where shadowed < 8 {
                    served.append(try await predict("please reset my password number \(i)"))
                    shadowed = try await store.shadowEvidence(candidate: "c2", baseline: "v1").predictions
                    if shadowed < 8 { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(shadowed >= 8)
                var shadowedIDs: [String] = []
                for try await id in try await store.query("SELECT prediction_id FROM shadow_predictions WHERE adapter_version = 'c2' LIMIT 3").decode(UUID.self) {
                    shadowedIDs.append(id.uuidString.lowercased())
                }
                for p in served.filter({ shadowedIDs.contains($0.id.lowercased()) }) {
                    let verdict = p.intent == "reset_password" ? #""verdict": "confirm""# : #""verdict": "correct", "intent": "reset_password""#
                    let f = try await http.call(.post, "/v1/feedback", token: agentToken, json: #"{"prediction_id": "\#(p.id)", \#(verdict)}"#)
                    #expect(f.status == .created, "\(f.text)")
                }
                let live = try await store.shadowEvidence(candidate: "c2", baseline: "v1")
                #expect(live.labelled.count == 3 && live.labelled.allSatisfy { $0.label == "reset_password" })

                // The final gate promotes; this replica switches by itself.
                try await gate.decideAll()
                #expect(try await store.productionAdapter()?.version == "c2")
                #expect(try await waitForServing("c2"))

                // Comparison: JSON and page.
                let compare = try await http.call(.get, "/v1/models/compare?a=v1&b=c2", token: adminToken)
                #expect(compare.status == .ok, "\(compare.text)")
                let sources = try #require((compare.object["comparison"] as? [String: Any])?["sources"] as? [[String: Any]])
                #expect(sources.first { $0["name"] as? String == "evaluation_pool" }?["n"] as? Int == 42)
                #expect(sources.first { $0["name"] as? String == "shadow" }?["n"] as? Int == 3)
                #expect(try await http.call(.get, "/v1/models/compare?a=nope", token: adminToken).errorField == "a")
                #expect(try await http.call(.get, "/v1/models/compare?a=v1&b=c2", token: agentToken).status == .forbidden)

                // Rollback: agents may not; an admin's returns v1 to production everywhere.
                #expect(try await http.call(.post, "/v1/models/rollback", token: agentToken).status == .forbidden)
                let rollback = try await http.call(.post, "/v1/models/rollback", token: adminToken, json: #"{"reason": "test rollback"}"#)
                #expect(rollback.status == .ok, "\(rollback.text)")
                #expect(rollback.object["adapter_version"] as? String == "v1" && rollback.object["previous_version"] as? String == "c2")
                #expect(try await waitForServing("v1"))
                let history = try await http.call(.get, "/v1/models/deployments", token: adminToken)
                let actions = (history.object["deployments"] as? [[String: Any]])?.compactMap { $0["action"] as? String }
                #expect(actions == ["rollback", "promote", "first"])

                // The admin's override, audited; the lifecycle refuses what makes no sense.
                let promote = try await http.call(.post, "/v1/models/c2/promote", token: adminToken, json: #"{"reason": "override"}"#)
                #expect(promote.status == .ok && promote.object["action"] as? String == "manual_promote", "\(promote.text)")
                #expect(try await http.call(.post, "/v1/models/c2/promote", token: adminToken).status == .conflict)
                #expect(try await http.call(.post, "/v1/models/nope/promote", token: adminToken).status == .notFound)
                #expect(try await waitForServing("c2"))
                // Rolling back walks back through the promotions, never forth: to v1, then nothing earlier.
                #expect(try await http.call(.post, "/v1/models/rollback", token: adminToken).object["adapter_version"] as? String == "v1")
                let again = try await http.call(.post, "/v1/models/rollback", token: adminToken)
                #expect(again.status == .conflict && again.text.contains("v1 was the first production adapter"), "\(again.text)")
                #expect(try await waitForServing("v1"))

                // The policy over the API: partial updates, each bad field named.
                #expect(try await http.call(.put, "/v1/gate/policy", token: adminToken, json: #"{"significance_level": 2}"#).errorField == "significance_level")
                #expect(try await http.call(.put, "/v1/gate/policy", token: adminToken, json: #"{"bogus": 1}"#).errorField == "bogus")
                #expect(try await http.call(.put, "/v1/gate/policy", token: adminToken, json: #"{"minimum_paired_samples": 1e300}"#).status == .badRequest)
                #expect(try await http.call(.put, "/v1/gate/policy", token: adminToken, json: #"{"auto_promote": null}"#).errorField == "auto_promote")
                #expect(try await http.call(.put, "/v1/gate/policy", token: adminToken, json: #"{"maximum_recall_drop": [1]}"#).errorField == "maximum_recall_drop")
                #expect(try await http.call(.put, "/v1/gate/policy", token: adminToken, json: #"{"significance_level": 5e-324}"#).errorField == "significance_level")
                #expect(try await http.call(.put, "/v1/gate/policy", token: adminToken, json: #"[1, 2]"#).status == .badRequest)
                let saved = try await http.call(.put, "/v1/gate/policy", token: adminToken, json: #"{"shadow_sample_rate": 0.5, "mode": "non_inferiority"}"#)
                #expect(saved.status == .ok && saved.object["shadow_sample_rate"] as? Double == 0.5, "\(saved.text)")
                let stored = try await store.gatePolicy()
                #expect(stored.mode == .nonInferiority && stored.minimumShadowPredictions == 5)
            }
        }
    }
}
