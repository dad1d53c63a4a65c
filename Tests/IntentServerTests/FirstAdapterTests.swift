import Foundation
import IntentModel
import IntentServer
import IntentStore
import IntentTestSupport
import Logging
import Testing

/// Two replicas starting together on one database train the first adapter once (the other
/// waits and loads it), under versions that cannot collide in a shared data directory.
@Suite struct FirstAdapterTests {
    @Test func replicasStartingTogetherTrainOnce() async throws {
        let base = try await Fixture.baseModel()
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("intentloop-first-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try await TestDatabase.withStore { store in
            _ = try await store.importExamples(Fixture.examples, kind: .training, actor: nil)
            _ = try await store.importExamples(Array(Fixture.examples.prefix(6)), kind: .golden, actor: nil)
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            let log = logger
            async let a = Bootstrap.servingModel(store: store, base: base, dataDirectory: dir, trainIfMissing: true, logger: log)
            async let b = Bootstrap.servingModel(store: store, base: base, dataDirectory: dir, trainIfMissing: true, logger: log)
            let (first, second) = try await (a, b)
            #expect(first.version == second.version)
            #expect(first.version.range(of: #"^v1-\d{4}-\d{2}-\d{2}T\d{6}Z-[0-9a-f]{6}$"#, options: .regularExpression) != nil, "\(first.version)")
            #expect(try await store.scalar("SELECT count(*) FROM adapters") == 1)
            // Measured on the golden set like every later adapter (the admin's home shows it).
            let metrics = try #require(try await store.adapter(version: first.version)).metrics
            let accuracy = try #require(metrics["golden_accuracy"].flatMap(Double.init))
            #expect(metrics["golden_size"] == "6" && (0...1).contains(accuracy) && metrics["golden_macro_f1"] != nil, "\(metrics)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("adapters").path).count == 1)
        }
    }
}
