import Foundation
import Hummingbird
import HummingbirdTesting
import IntentData
import IntentModel
import IntentServer
import IntentStore
import IntentTestSupport
import Logging
import LoopCore
import Testing
import Training

/// The loop's first half end to end on the demo data: agents' corrections through the API, a
/// training job queued through the API and run by a worker, a candidate with its lineage whose
/// adapter predicts the corrected utterances as the agents said.
@Suite(.serialized) struct RetrainingTests {
    static let logger: Logger = {
        var l = Logger(label: "test")
        l.logLevel = .warning
        return l
    }()

    /// Utterances the demo set does not hold, with the intent an agent gives them.
    static let corrections: [(String, String)] = [
        ("my parcel turned up crushed and the lid is broken", "damaged_item"),
        ("the box was wet and everything inside is ruined", "damaged_item"),
        ("i need a pdf receipt for my accountant", "invoice_request"),
        ("send me the bill for last month's order again", "invoice_request"),
        ("is the blue kettle back in stock", "product_availability"),
        ("do you still sell the large backpack", "product_availability"),
        ("i keep getting locked out after three tries", "account_locked"),
        ("my login is frozen, it says too many attempts", "account_locked"),
        ("let me speak with a real person please", "talk_to_human"),
        ("transfer me to somebody from support", "talk_to_human"),
        ("my card was declined when paying", "payment_failed"),
        ("checkout keeps failing at the payment step", "payment_failed"),
    ]

    static func demo(_ file: String) throws -> [LabelledExample] {
        let url = try #require(ResourceDirectory.demo).appendingPathComponent(file)
        return try DatasetFile.parse(try Data(contentsOf: url), format: .jsonl, name: file)
    }

    /// A first production adapter (one quick epoch), stored in the database like the first start's;
    /// the model to serve and the adapter's files. Training and merging run off the cooperative pool.
    static func production(_ store: Store, base: BaseModel, examples: [LabelledExample], version: String = "v1-test") async throws
        -> (model: ServingModel, files: [String: Data]) {
        let labels = Set(examples.map(\.intent)).sorted()
        let (classifier, files) = try await offPool { () throws -> (IntentClassifier, [String: Data]) in
            var o = TrainingOptions()
            o.epochs = 1
            let report = try Trainer(base: base, options: o).train(labels: labels, examples: examples)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("first-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try report.adapter.save(to: dir)
            return (try IntentClassifier(base: base, adapter: report.adapter), try AdapterContent.read(directory: dir))
        }
        var first = NewAdapter(version: version, status: .production, labels: labels, files: files)
        first.reason = "trained by the test"
        try await store.storeProductionAdapter(first, actor: nil)
        return (ServingModel(classifier: classifier, version: version), files)
    }

    @Test func correctionsThroughTheAPIBecomeACandidateThatLearnedThem() async throws {
        let base = try await Fixture.baseModel()
        let training = try Self.demo("train.jsonl"), golden = try Self.demo("golden.jsonl")
        try await TestDatabase.withStore { store in
            _ = try await store.importExamples(training, kind: .training, actor: nil)
            _ = try await store.importExamples(golden, kind: .golden, actor: nil)
            let client = try await store.createUser(username: "client", role: .client, passwordHash: nil)
            let agent = try await store.createUser(username: "agent", role: .agent, passwordHash: nil)
            let admin = try await store.createUser(username: "admin", role: .admin, passwordHash: nil)
            let clientToken = try await store.createAPIToken(userID: client.id, name: "t")
            let agentToken = try await store.createAPIToken(userID: agent.id, name: "t")
            let adminToken = try await store.createAPIToken(userID: admin.id, name: "t")
            let model = try await Self.production(store, base: base, examples: training).model
            var config = ServerConfiguration()
            config.port = 0
            let app = try await buildApplication(configuration: config, store: store, model: model, logger: Self.logger)
            let cacheDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: cacheDirectory) }
            var settings = WorkerSettings()
            settings.training.epochs = 2
            settings.heartbeat = .seconds(1)
            let worker = JobWorker(store: store, base: base, cache: AdapterCache(directory: cacheDirectory), settings: settings, logger: Self.logger)

            try await app.test(.router) { http in
                // Agents confirm or correct each prediction through the API.
                for (text, intent) in Self.corrections {
                    let p = try await http.call(.post, "/v1/predict", token: clientToken, json: #"{"text": "\#(text)"}"#)
                    let id = try #require(p.object["id"] as? String)
                    let verdict = p.object["intent"] as? String == intent ? #""verdict": "confirm""# : #""verdict": "correct", "intent": "\#(intent)""#
                    let f = try await http.call(.post, "/v1/feedback", token: agentToken, json: #"{"prediction_id": "\#(id)", \#(verdict)}"#)
                    #expect(f.status == .created, "\(f.text)")
                }
                // Agents cannot queue training; admins can, once.
                #expect(try await http.call(.post, "/v1/jobs", token: agentToken).status == .forbidden)
                let queued = try await http.call(.post, "/v1/jobs", token: adminToken)
                #expect(queued.status == .created, "\(queued.text)")
                let id = try #require((queued.object["job"] as? [String: Any])?["id"] as? Int)
                #expect(try await http.call(.post, "/v1/jobs", token: adminToken).status == .ok)

                #expect(try await worker.runOnce())

                let job = try await http.call(.get, "/v1/jobs/\(id)", token: adminToken)
                #expect(job.object["status"] as? String == "succeeded", "\(job.text)")
                let version = try #require((job.object["result"] as? [String: Any])?["adapter_version"] as? String)
                #expect((job.object["progress"] as? [String: Any])?["phase"] as? String == "succeeded")
                #expect(try await http.call(.get, "/v1/jobs/abc", token: adminToken).status == .badRequest)
                #expect(try await http.call(.get, "/v1/jobs/999999", token: adminToken).status == .notFound)
                #expect(try await http.call(.post, "/v1/jobs/\(id)/cancel", token: adminToken).status == .conflict)

                // The candidate, with its lineage.
                let models = try await http.call(.get, "/v1/models", token: adminToken)
                let candidate = try #require((models.object["adapters"] as? [[String: Any]])?.first { $0["version"] as? String == version })
                #expect(candidate["status"] as? String == "candidate")
                #expect(candidate["parent_version"] as? String == "v1-test")
                #expect(candidate["job_id"] as? Int == id)
                #expect(candidate["feedback_to"] as? Int != nil && (candidate["dataset_sha256"] as? String)?.count == 64)
                let metrics = try #require(candidate["metrics"] as? [String: String])
                #expect(metrics["golden_size"] == "\(golden.count)" && metrics["golden_accuracy"] != nil && metrics["parent_golden_accuracy"] != nil)
            }

            // The candidate's stored adapter (fetched and verified like any process would) predicts
            // the trained corrections as the agents said; those in the evaluation pool were never trained on.
            let record = try #require(try await store.adapters().first { $0.status == .candidate })
            let folder = try await AdapterCache(directory: cacheDirectory).folder(for: record, store: store)
            let trained = Self.corrections.filter { !DatasetAssembly.inEvaluationPool(DatasetAssembly.key($0.0), percent: 20) }
            #expect(trained.count >= 6)
            let texts = trained.map(\.0)
            let predicted = try await offPool {
                let classifier = try IntentClassifier(base: base, adapter: try Adapter.load(from: folder, encoder: base.encoder.config))
                return classifier.predict(texts).map(\.intent)
            }
            #expect(predicted == trained.map(\.1), "\(predicted)")
            #expect(record.dataSummary["feedback_trained"] == trained.count)
        }
    }

    @Test func cancellingARunningJobStopsItsTraining() async throws {
        let base = try await Fixture.baseModel()
        let training = try Self.demo("train.jsonl")
        try await TestDatabase.withStore { store in
            _ = try await store.importExamples(training, kind: .training, actor: nil)
            let cacheDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: cacheDirectory) }
            var settings = WorkerSettings()
            settings.training.epochs = 50
            settings.heartbeat = .milliseconds(300)
            let worker = JobWorker(store: store, base: base, cache: AdapterCache(directory: cacheDirectory), settings: settings, logger: Self.logger)
            let (id, _) = try await store.enqueueJob(kind: "train")
            async let ran = worker.runOnce()
            var phase = ""
            for _ in 0..<200 where phase != "train" {
                try await Task.sleep(for: .milliseconds(100))
                phase = try await store.job(id)?.progress?.phase ?? ""
            }
            #expect(phase == "train")
            _ = try await store.cancelJob(id, actor: nil)
            let start = ContinuousClock.now
            #expect(try await ran)
            #expect(ContinuousClock.now - start < .seconds(10), "the worker stops within a heartbeat and a training step")
            let job = try #require(try await store.job(id))
            #expect(job.status == .cancelled, "\(job)")
            #expect(try await store.adapters().allSatisfy { $0.status == .failed })
        }
    }
}
