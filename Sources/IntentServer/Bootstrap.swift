import Foundation
import IntentData
import IntentModel
import IntentStore
import Logging
import LoopCore
import Training

/// Start-up steps of `intentloop serve`: the model to serve (the production adapter from the
/// database, or a first one trained on the imported examples), and the demo data and users.
public enum Bootstrap {
    /// Loads the production adapter; when there is none and `trainIfMissing`, trains the first one
    /// on the training examples in the database (on a thread of its own) and promotes it.
    public static func servingModel(store: Store, base: BaseModel, dataDirectory: URL, trainIfMissing: Bool,
                                    threads: Int = ProcessInfo.processInfo.activeProcessorCount, precision: Precision = .fp32,
                                    logger: Logger) async throws -> ServingModel {
        if let model = try await production(store: store, base: base, dataDirectory: dataDirectory, precision: precision, logger: logger) {
            return model
        }
        guard trainIfMissing else {
            throw StoreError(.invalid, "no production adapter yet: import a dataset (intentloop import FILE) and start with --train-first-adapter, or use --demo")
        }
        // One replica trains; others starting at the same time wait for it and load its adapter.
        // In a race, so that a shutdown while waiting or training is not held up.
        return try await race(limit: nil) {
            try await store.withFirstAdapterLock {
                if let model = try await production(store: store, base: base, dataDirectory: dataDirectory, precision: precision, logger: logger) {
                    return model
                }
                return try await trainFirst(store: store, base: base, threads: threads, precision: precision, logger: logger)
            }
        }
    }

    static func production(store: Store, base: BaseModel, dataDirectory: URL, precision: Precision, logger: Logger) async throws -> ServingModel? {
        guard let found = try await store.productionAdapter() else { return nil }
        let model = try await load(found, store: store, base: base, cache: adapterCache(dataDirectory), precision: precision)
        logger.info("serving the production adapter", metadata: ["intent.adapter.version": "\(found.version)", "intent.adapter.sha256": "\(found.sha256 ?? "")"])
        return model
    }

    /// An adapter from the database as a model ready to serve: fetched into the local cache
    /// (verified), loaded, merged and (at int8) quantized on a thread of its own — never on a request's path.
    public static func load(_ found: AdapterRecord, store: Store, base: BaseModel, cache: AdapterCache,
                            precision: Precision = .fp32) async throws -> ServingModel {
        let record = try await store.adoptLegacyAdapter(found)
        let folder = try await cache.folder(for: record, store: store)
        return try await onDedicatedThread(name: "intentloop.load") {
            let adapter = try Adapter.load(from: folder, encoder: base.encoder.config)
            return ServingModel(classifier: try IntentClassifier(base: base, adapter: adapter, precision: precision), version: record.version)
        }
    }

    /// Where this process keeps verified copies of adapters stored in the database.
    public static func adapterCache(_ dataDirectory: URL) -> AdapterCache {
        AdapterCache(directory: dataDirectory.appendingPathComponent("adapters/cache", isDirectory: true))
    }

    static func trainFirst(store: Store, base: BaseModel, threads: Int, precision: Precision, logger: Logger) async throws -> ServingModel {
        let examples = try await store.examples(kind: .training)
        guard !examples.isEmpty else { throw StoreError(.invalid, "no production adapter and no training examples to train one: import a dataset first") }
        let labels = Set(examples.map(\.intent)).sorted()
        // Unique even for two servers training in the same second.
        let suffix = (0..<3).map { _ in UInt8.random(in: 0...255) }.hex
        let version = "v1-" + ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "") + "-" + suffix
        logger.info("training the first adapter", metadata: ["train.examples": "\(examples.count)", "train.intents": "\(labels.count)"])
        // The golden set, when one is imported: the first adapter is measured on it like every
        // later one (the admin's home shows its accuracy and macro-F1).
        let golden = try await store.examples(kind: .golden)
        let (report, files, classifier, goldenScore) = try await onDedicatedThread(name: "intentloop.train") {
            () throws -> (TrainingReport, [String: Data], IntentClassifier, Evaluation?) in
            var options = TrainingOptions()
            options.epochs = 5
            options.threads = threads
            let report = try Trainer(base: base, options: options).train(labels: labels, examples: examples)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-first-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try report.adapter.save(to: folder)
            let classifier = try IntentClassifier(base: base, adapter: report.adapter, precision: precision)
            let score = golden.isEmpty ? nil : Evaluation(expected: golden.map(\.intent),
                                                           predicted: classifier.predict(golden.map(\.text), topK: 1, batchSize: 64).map(\.intent))
            return (report, try AdapterContent.read(directory: folder), classifier, score)
        }
        var adapter = NewAdapter(version: version, status: .production, labels: labels, files: files)
        adapter.metrics = ["training_examples": "\(examples.count)", "examples_per_s": String(format: "%.1f", report.examplesPerSecond), "trained_by": "first start"]
        if let goldenScore {
            adapter.metrics["golden_size"] = "\(golden.count)"
            adapter.metrics["golden_accuracy"] = String(format: "%.4f", goldenScore.accuracy)
            adapter.metrics["golden_macro_f1"] = String(format: "%.4f", goldenScore.macroF1)
        }
        adapter.reason = "the first adapter, trained at first start"
        try await store.storeProductionAdapter(adapter, actor: nil)
        logger.info("first adapter trained", metadata: ["intent.adapter.version": "\(version)", "train.seconds": "\(Int(report.trainingSeconds))"])
        return ServingModel(classifier: classifier, version: version)
    }

    /// The demo: the project's support dataset and golden set (ops/demo), a demo admin, agent
    /// and API client. Passwords and the token are made once and kept in DATA/demo-credentials.json.
    public static func demo(store: Store, dataDirectory: URL, demoDirectory: URL, logger: Logger) async throws -> DemoCredentials {
        if try await store.exampleCount(kind: .training) == 0 {
            for (file, kind) in [("train.jsonl", ExampleKind.training), ("golden.jsonl", .golden)] {
                let url = demoDirectory.appendingPathComponent(file)
                guard let data = FileManager.default.contents(atPath: url.path) else {
                    throw StoreError(.invalid, "the demo dataset \(url.path) is missing")
                }
                let summary = try await store.importExamples(try DatasetFile.parse(data, format: .jsonl, name: url.path), kind: kind, actor: nil,
                                                             source: "demo")
                logger.info("imported the demo dataset", metadata: ["store.kind": "\(kind.rawValue)", "store.inserted": "\(summary.inserted)"])
            }
        }
        let file = dataDirectory.appendingPathComponent("demo-credentials.json")
        if let data = FileManager.default.contents(atPath: file.path), let saved = try? JSONDecoder().decode(DemoCredentials.self, from: data),
           try await store.user(apiToken: saved.clientToken) != nil {
            return saved
        }
        let credentials = DemoCredentials(adminPassword: randomToken(bytes: 9), agentPassword: randomToken(bytes: 9), clientToken: "")
        _ = try await store.upsertUser(username: "demo-admin", role: .admin, passwordHash: try await Passwords.hash(credentials.adminPassword))
        _ = try await store.upsertUser(username: "demo-agent", role: .agent, passwordHash: try await Passwords.hash(credentials.agentPassword))
        let client = try await store.upsertUser(username: "demo-client", role: .client, passwordHash: nil)
        let token = try await store.createAPIToken(userID: client.id, name: "demo")
        let saved = DemoCredentials(adminPassword: credentials.adminPassword, agentPassword: credentials.agentPassword, clientToken: token)
        guard FileManager.default.createFile(atPath: file.path, contents: try JSONEncoder().encode(saved), attributes: [.posixPermissions: 0o600]) else {
            throw StoreError(.invalid, "cannot write the demo credentials to \(file.path)")
        }
        return saved
    }
}

public struct DemoCredentials: Codable, Sendable {
    public let adminPassword: String
    public let agentPassword: String
    public let clientToken: String
}
