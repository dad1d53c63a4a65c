import Foundation
import IntentData
import LoopCore
import PostgresNIO

extension Store {
    /// What a training job learns from, read in one REPEATABLE READ transaction so that the
    /// examples, the verdicts and the intents' statuses are one consistent picture.
    public func datasetSnapshot() async throws -> DatasetSnapshot {
        try await transaction(limit: nil) { c in
            _ = try await c.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: self.logger)
            // A large feedback table may take longer than a server's per-request statement timeout.
            _ = try await c.query("SET LOCAL statement_timeout = 0", logger: self.logger)
            var training: [LabelledExample] = [], golden: [LabelledExample] = []
            for try await (text, intent, kind) in try await c.query("SELECT text, intent, kind FROM examples ORDER BY id", logger: self.logger)
                .decode((String, String, String).self) {
                if kind == "golden" { golden.append(LabelledExample(text: text, intent: intent)) } else { training.append(LabelledExample(text: text, intent: intent)) }
            }
            var feedback: [DatasetSnapshot.Feedback] = []
            for try await (id, text, verdict, intent, predicted, role) in try await c.query("""
                SELECT f.id, f.text, f.verdict, f.intent, f.predicted_intent, u.role FROM feedback f JOIN users u ON u.id = f.agent_id ORDER BY f.id
                """, logger: self.logger).decode((Int64, String, String, String, String?, String).self) {
                feedback.append(.init(id: id, text: text, verdict: verdict, intent: intent, predictedIntent: predicted, byAdmin: role == "admin"))
            }
            var statuses: [String: String] = [:]
            for try await (name, status) in try await c.query("SELECT name, status FROM intents", logger: self.logger).decode((String, String).self) {
                statuses[name] = status
            }
            return DatasetSnapshot(training: training, golden: golden, feedback: feedback, intentStatus: statuses)
        }
    }
}
