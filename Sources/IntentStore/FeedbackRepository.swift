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
    /// True when this is the verdict stored by an earlier request with the same Idempotency-Key.
    public internal(set) var replayed = false
}

extension Store {
    /// Confirms or corrects a prediction. Refused: an unknown prediction, an unknown or rejected
    /// intent, a second verdict on the same prediction, `confirm` with an intent other than the
    /// predicted one. With `propose`, an unknown intent is proposed (admin approval pending) in
    /// the same transaction as the verdict: a refused verdict leaves no proposal behind. With an
    /// `idempotencyKey` the agent used before for the same verdict, the stored one is returned.
    public func review(predictionID: UUID, agentID: Int64, verdict: Verdict, intent: String?, note: String = "",
                       propose: Bool = false, idempotencyKey: String? = nil) async throws -> FeedbackRecord {
        guard verdict != .submit else { throw StoreError(.invalid, "verdict must be confirm or correct", field: "verdict") }
        try Self.checkNote(note)
        if let key = idempotencyKey, let earlier = try await replayFeedback(agentID: agentID, key: key, predictionID: predictionID, verdict: verdict,
                                                                           intent: intent, text: nil, note: note) {
            return earlier
        }
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
        return try await storeFeedback(predictionID: predictionID, text: prediction.text, agentID: agentID, verdict: verdict, intent: chosen,
                                       predicted: prediction.intent, note: note, propose: propose, idempotencyKey: idempotencyKey)
    }

    /// A free-form utterance with its right intent, from an agent.
    public func submit(text: String, intent: String, agentID: Int64, note: String = "", propose: Bool = false,
                       idempotencyKey: String? = nil) async throws -> FeedbackRecord {
        if let problem = InputRules.textProblem(text) { throw StoreError(.invalid, "text \(problem)", field: "text") }
        try Self.checkNote(note)
        if let key = idempotencyKey, let earlier = try await replayFeedback(agentID: agentID, key: key, predictionID: nil, verdict: .submit,
                                                                           intent: intent, text: text, note: note) {
            return earlier
        }
        return try await storeFeedback(predictionID: nil, text: text, agentID: agentID, verdict: .submit, intent: intent, predicted: nil,
                                       note: note, propose: propose, idempotencyKey: idempotencyKey)
    }

    static func checkNote(_ note: String) throws {
        if let problem = InputRules.textProblem(note, required: false) { throw StoreError(.invalid, "note \(problem)", field: "note") }
    }

    /// The feedback an agent stored with `key`, when it is the same verdict; a different one is refused.
    func replayFeedback(agentID: Int64, key: String, predictionID: UUID?, verdict: Verdict, intent: String?, text: String?,
                        note: String) async throws -> FeedbackRecord? {
        if let problem = InputRules.idempotencyKeyProblem(key) { throw StoreError(.invalid, "Idempotency-Key \(problem)", field: "Idempotency-Key") }
        let rows = try await query("""
            SELECT id, prediction_id, text, verdict, intent, predicted_intent, note, created_at FROM feedback
            WHERE agent_id = \(agentID) AND idempotency_key = \(key)
            """)
        guard let stored = try await Self.decodeFeedback(rows).first else { return nil }
        let same = stored.predictionID == predictionID && stored.verdict == verdict && (intent == nil || intent == stored.intent)
            && (text == nil || text == stored.text) && note == stored.note
        guard same else {
            throw StoreError(.idempotencyMismatch, "this Idempotency-Key was used for a different verdict; use a new key", field: "Idempotency-Key")
        }
        var replay = stored
        replay.replayed = true
        return replay
    }

    /// Checks the intent (proposing it when asked) and inserts the verdict, in one transaction.
    func storeFeedback(predictionID: UUID?, text: String, agentID: Int64, verdict: Verdict, intent: String, predicted: String?, note: String,
                       propose: Bool, idempotencyKey: String?) async throws -> FeedbackRecord {
        do {
            return try await transaction { connection in
                try await self.requireUsableIntent(intent, agentID: agentID, propose: propose, on: connection)
                let rows = try await connection.query("""
                    INSERT INTO feedback (prediction_id, text, agent_id, verdict, intent, predicted_intent, note, idempotency_key)
                    VALUES (\(predictionID), \(text), \(agentID), \(verdict.rawValue), \(intent), \(predicted), \(note), \(idempotencyKey))
                    RETURNING id, created_at
                    """, logger: self.logger)
                for try await (id, created) in rows.decode((Int64, Date).self) {
                    return FeedbackRecord(id: id, predictionID: predictionID, text: text, verdict: verdict, intent: intent,
                                          predictedIntent: predicted, note: note, createdAt: created)
                }
                throw StoreError(.invalid, "feedback not stored")
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            // A retry that raced its own first attempt fails on whichever unique index PostgreSQL
            // checks first (the one-verdict-per-prediction index, often): with a key, look for it.
            if let key = idempotencyKey,
               let earlier = try await replayFeedback(agentID: agentID, key: key, predictionID: predictionID, verdict: verdict, intent: intent,
                                                      text: text, note: note) {
                return earlier
            }
            throw StoreError(.conflict, "prediction \(predictionID?.uuidString.lowercased() ?? "") already has a verdict", field: "prediction_id")
        }
    }

    func requireUsableIntent(_ intent: String, agentID: Int64, propose: Bool, on connection: PostgresConnection) async throws {
        guard !intent.isEmpty else { throw StoreError(.invalid, "intent is required", field: "intent") }
        guard Self.validIntentName(intent) else { throw StoreError(.invalid, "intent names are 1–100 letters, digits or _.:/-", field: "intent") }
        // FOR SHARE: an admin's merge, rejection or rename of this intent waits for the verdict's
        // transaction, or the verdict waits for theirs and then sees the intent as it now is (read
        // without the lock, a verdict could land on a proposal merged away a moment before).
        switch try await intentStatus(intent, on: connection, lock: true) {
        case .active?, .proposed?: return
        case .rejected?: throw StoreError(.invalid, "intent '\(intent.prefix(100))' was rejected by an admin", field: "intent")
        case .retired?: throw StoreError(.invalid, "intent '\(intent.prefix(100))' was retired by an admin", field: "intent")
        case nil:
            guard propose else { throw StoreError(.invalid, "unknown intent '\(intent.prefix(100))'", field: "intent") }
            if let problem = Self.newIntentNameProblem(intent) { throw StoreError(.invalid, "a new intent's name \(problem)", field: "intent") }
            try await proposeIntent(intent, by: agentID, on: connection)
        }
    }

    /// The verdict on a prediction, if any.
    public func feedback(predictionID: UUID) async throws -> FeedbackRecord? {
        let rows = try await self.query("""
            SELECT id, prediction_id, text, verdict, intent, predicted_intent, note, created_at FROM feedback WHERE prediction_id = \(predictionID)
            """)
        return try await Self.decodeFeedback(rows).first
    }

    /// An agent's own verdicts and submissions, newest first.
    public func history(agentID: Int64, limit: Int = 100) async throws -> [FeedbackRecord] {
        let rows = try await self.query("""
            SELECT id, prediction_id, text, verdict, intent, predicted_intent, note, created_at FROM feedback
            WHERE agent_id = \(agentID) ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """)
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
