import Foundation
import PostgresNIO

public enum Verdict: String, Sendable, Codable { case confirm, correct, submit }

public struct FeedbackRecord: Sendable, Codable, Equatable {
    public let id: Int64
    public let predictionID: UUID?
    public let text: String
    public let verdict: Verdict
    public let intent: String
    public let predictedIntent: String?
    public let note: String
    public let createdAt: Date
}

extension Store {
    /// Confirms or corrects a prediction. Refused: an unknown prediction, an unknown or rejected
    /// intent, a second verdict on the same prediction, `confirm` with an intent other than the
    /// predicted one. With `propose`, an unknown intent is proposed (admin approval pending).
    public func review(predictionID: UUID, agentID: Int64, verdict: Verdict, intent: String?, note: String = "",
                       propose: Bool = false) async throws -> FeedbackRecord {
        guard verdict != .submit else { throw StoreError(.invalid, "verdict must be confirm or correct", field: "verdict") }
        guard note.count <= 2000 else { throw StoreError(.invalid, "note is longer than 2000 characters", field: "note") }
        guard let prediction = try await prediction(id: predictionID) else {
            throw StoreError(.notFound, "no prediction \(predictionID.uuidString.lowercased())", field: "prediction_id")
        }
        let chosen = verdict == .confirm ? (intent ?? prediction.intent) : (intent ?? "")
        if verdict == .confirm, chosen != prediction.intent {
            throw StoreError(.invalid, "confirm keeps the predicted intent '\(prediction.intent)'; use correct to change it", field: "intent")
        }
        if verdict == .correct, chosen == prediction.intent {
            throw StoreError(.invalid, "the correction names the predicted intent; use confirm", field: "intent")
        }
        try await requireUsableIntent(chosen, agentID: agentID, propose: propose)
        return try await insertFeedback(predictionID: predictionID, text: prediction.text, agentID: agentID, verdict: verdict,
                                        intent: chosen, predicted: prediction.intent, note: note)
    }

    /// A free-form utterance with its right intent, from an agent.
    public func submit(text: String, intent: String, agentID: Int64, note: String = "", propose: Bool = false) async throws -> FeedbackRecord {
        guard (1...2000).contains(text.count), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw StoreError(.invalid, "text must be 1–2000 characters and not blank", field: "text")
        }
        guard note.count <= 2000 else { throw StoreError(.invalid, "note is longer than 2000 characters", field: "note") }
        try await requireUsableIntent(intent, agentID: agentID, propose: propose)
        return try await insertFeedback(predictionID: nil, text: text, agentID: agentID, verdict: .submit, intent: intent, predicted: nil, note: note)
    }

    func requireUsableIntent(_ intent: String, agentID: Int64, propose: Bool) async throws {
        guard !intent.isEmpty else { throw StoreError(.invalid, "intent is required", field: "intent") }
        switch try await intentStatus(intent) {
        case .active?, .proposed?: return
        case .rejected?: throw StoreError(.invalid, "intent '\(intent)' was rejected by an admin", field: "intent")
        case nil:
            guard propose else { throw StoreError(.invalid, "unknown intent '\(intent.prefix(100))'", field: "intent") }
            try await proposeIntent(intent, by: agentID)
        }
    }

    func insertFeedback(predictionID: UUID?, text: String, agentID: Int64, verdict: Verdict, intent: String, predicted: String?,
                        note: String) async throws -> FeedbackRecord {
        do {
            let rows = try await client.query("""
                INSERT INTO feedback (prediction_id, text, agent_id, verdict, intent, predicted_intent, note)
                VALUES (\(predictionID), \(text), \(agentID), \(verdict.rawValue), \(intent), \(predicted), \(note)) RETURNING id, created_at
                """, logger: logger)
            for try await (id, created) in rows.decode((Int64, Date).self) {
                return FeedbackRecord(id: id, predictionID: predictionID, text: text, verdict: verdict, intent: intent,
                                      predictedIntent: predicted, note: note, createdAt: created)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StoreError(.conflict, "prediction \(predictionID?.uuidString.lowercased() ?? "") already has a verdict", field: "prediction_id")
        }
        throw StoreError(.invalid, "feedback not stored")
    }

    /// The verdict on a prediction, if any.
    public func feedback(predictionID: UUID) async throws -> FeedbackRecord? {
        let rows = try await client.query("""
            SELECT id, prediction_id, text, verdict, intent, predicted_intent, note, created_at FROM feedback WHERE prediction_id = \(predictionID)
            """, logger: logger)
        return try await Self.decodeFeedback(rows).first
    }

    /// An agent's own verdicts and submissions, newest first.
    public func history(agentID: Int64, limit: Int = 100) async throws -> [FeedbackRecord] {
        let rows = try await client.query("""
            SELECT id, prediction_id, text, verdict, intent, predicted_intent, note, created_at FROM feedback
            WHERE agent_id = \(agentID) ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """, logger: logger)
        return try await Self.decodeFeedback(rows)
    }

    static func decodeFeedback(_ rows: PostgresRowSequence) async throws -> [FeedbackRecord] {
        var out: [FeedbackRecord] = []
        for try await (id, prediction, text, verdict, intent, predicted, note, created)
            in rows.decode((Int64, UUID?, String, String, String, String?, String, Date).self) {
            out.append(FeedbackRecord(id: id, predictionID: prediction, text: text, verdict: Verdict(rawValue: verdict) ?? .submit, intent: intent,
                                      predictedIntent: predicted, note: note, createdAt: created))
        }
        return out
    }
}
