import Foundation
import PostgresNIO

/// What the review pages need beside the queue itself: its size, today's progress, identical
/// utterances, several verdicts at once, and undoing an agent's last verdict.
extension Store {
    /// The most the queue's count counts: beyond it the pages say "10000+" (counting a queue of
    /// millions on every page would scan them all).
    public static let queueCountCap = 10_000

    /// How many predictions `reviewQueue(f)` would go through, all pages together (`limit` and
    /// `offset` ignored), up to `queueCountCap`.
    public func reviewQueueCount(_ f: QueueFilter) async throws -> Int {
        let rows = try await self.query("""
            WITH shadow AS (SELECT version FROM adapters WHERE status = 'shadow')
            SELECT count(*) FROM (SELECT 1 FROM predictions p
            WHERE NOT EXISTS (SELECT 1 FROM feedback fb WHERE fb.prediction_id = p.id)
              AND (\(f.intent)::text IS NULL OR p.intent = \(f.intent))
              AND (\(f.from)::timestamptz IS NULL OR p.created_at >= \(f.from))
              AND (\(f.to)::timestamptz IS NULL OR p.created_at < \(f.to))
              AND (\(f.minConfidence)::real IS NULL OR p.confidence >= \(f.minConfidence))
              AND (\(f.maxConfidence)::real IS NULL OR p.confidence <= \(f.maxConfidence))
              AND (\(f.confidentAbove)::real IS NULL OR p.confidence < \(f.confidentAbove)
                   OR EXISTS (SELECT 1 FROM shadow_predictions s WHERE s.prediction_id = p.id
                              AND s.adapter_version = (SELECT version FROM shadow) AND s.intent <> p.intent))
            LIMIT \(Self.queueCountCap)) q
            """)
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }

    /// Verdicts on predictions stored since `since` (the start of today, say): by `agentID`, and by everyone.
    public func reviewedSince(_ since: Date, agentID: Int64) async throws -> (mine: Int, everyone: Int) {
        let rows = try await self.query("""
            SELECT count(*) FILTER (WHERE agent_id = \(agentID)), count(*) FROM feedback
            WHERE prediction_id IS NOT NULL AND created_at >= \(since)
            """)
        for try await (mine, all) in rows.decode((Int64, Int64).self) { return (Int(mine), Int(all)) }
        return (0, 0)
    }

    /// For each of `texts`, how many unreviewed predictions have exactly that text (at most `cap`
    /// counted per text).
    public func unreviewedCounts(texts: [String], cap: Int = 1000) async throws -> [String: Int] {
        let distinct = Array(Set(texts))
        guard !distinct.isEmpty else { return [:] }
        let rows = try await self.query("""
            SELECT t.text, (SELECT count(*) FROM (SELECT 1 FROM predictions p WHERE p.text = t.text
                            AND NOT EXISTS (SELECT 1 FROM feedback fb WHERE fb.prediction_id = p.id) LIMIT \(cap)) c)
            FROM unnest(\(distinct)::text[]) AS t(text)
            """)
        var out: [String: Int] = [:]
        for try await (text, n) in rows.decode((String, Int64).self) { out[text] = Int(n) }
        return out
    }

    /// Unreviewed predictions whose text is exactly `text`, oldest first, at most `limit`.
    public func unreviewedPredictions(withText text: String, limit: Int = 1000) async throws -> [PredictionRecord] {
        let rows = try await self.query("""
            SELECT \(unescaped: Self.predictionColumns) FROM predictions p
            WHERE p.text = \(text) AND NOT EXISTS (SELECT 1 FROM feedback fb WHERE fb.prediction_id = p.id)
            ORDER BY p.created_at, p.id LIMIT \(limit)
            """)
        return try await Self.decodePredictions(rows)
    }

    /// Says that `intent` is right for each of `predictionIDs` (confirm where it was predicted,
    /// correct where not; with `intent` nil, each is confirmed as predicted), one verdict stored
    /// per prediction, all in one transaction: every verdict is stored or none. Predictions
    /// already reviewed, gone, or (confirming as predicted) whose intent is no longer usable are
    /// skipped and counted; an `intent` that cannot be used refuses the whole call.
    public func reviewMany(predictionIDs: [UUID], intent: String?, agentID: Int64, note: String = "",
                           propose: Bool = false) async throws -> (stored: [FeedbackRecord], skipped: Int) {
        try Self.checkNote(note)
        let ids = Array(Set(predictionIDs))
        guard !ids.isEmpty else { return ([], 0) }
        let stored = try await transaction { connection in
            if let intent {
                try await self.requireUsableIntent(intent, agentID: agentID, propose: propose, on: connection)
            } else {
                // The predicted intents, held as they are while the verdicts name them.
                _ = try await connection.query("""
                    SELECT name FROM intents WHERE name IN (SELECT intent FROM predictions WHERE id = ANY(\(ids))) ORDER BY name FOR SHARE
                    """, logger: self.logger).collect()
            }
            let rows = try await connection.query("""
                INSERT INTO feedback (prediction_id, text, agent_id, verdict, intent, predicted_intent, note)
                SELECT p.id, p.text, \(agentID), CASE WHEN p.intent = COALESCE(\(intent)::text, p.intent) THEN 'confirm' ELSE 'correct' END,
                       COALESCE(\(intent)::text, p.intent), p.intent, \(note)
                FROM predictions p
                WHERE p.id = ANY(\(ids))
                  AND (\(intent)::text IS NOT NULL OR EXISTS (SELECT 1 FROM intents i WHERE i.name = p.intent AND i.status IN ('active', 'proposed')))
                ORDER BY p.id
                ON CONFLICT DO NOTHING
                RETURNING id, prediction_id, text, verdict, intent, predicted_intent, note, created_at
                """, logger: self.logger)
            return try await Self.decodeFeedback(rows)
        }
        return (stored, ids.count - stored.count)
    }

    /// Takes back `agentID`'s verdict on a prediction when it is at most `window` old: the row is
    /// deleted (the prediction returns to the queue), an intent that only this verdict proposed
    /// is withdrawn, and the undo is audited with what it removed. Nil when there is no such
    /// verdict, or it is older than the window.
    public func undoReview(predictionID: UUID, agentID: Int64, window: Duration) async throws -> FeedbackRecord? {
        let seconds = window.seconds
        return try await transaction { connection in
            let rows = try await connection.query("""
                DELETE FROM feedback WHERE prediction_id = \(predictionID) AND agent_id = \(agentID)
                  AND created_at > now() - make_interval(secs => \(seconds))
                RETURNING id, prediction_id, text, verdict, intent, predicted_intent, note, created_at
                """, logger: self.logger)
            guard let removed = try await Self.decodeFeedback(rows).first else { return nil }
            let withdrawn = try await connection.query("""
                DELETE FROM intents i WHERE i.name = \(removed.intent) AND i.status = 'proposed' AND i.proposed_by = \(agentID)
                  AND NOT EXISTS (SELECT 1 FROM feedback fb WHERE fb.intent = i.name)
                  AND NOT EXISTS (SELECT 1 FROM examples e WHERE e.intent = i.name)
                RETURNING name
                """, logger: self.logger)
            var proposalWithdrawn = false
            for try await _ in withdrawn.decode(String.self) { proposalWithdrawn = true }
            try await self.audit(actor: agentID, action: "feedback.undo", subject: predictionID.uuidString.lowercased(), details: [
                "verdict": removed.verdict.rawValue, "intent": removed.intent, "predicted_intent": removed.predictedIntent ?? "",
                "stored_at": ISO8601DateFormatter().string(from: removed.createdAt), "proposal_withdrawn": proposalWithdrawn ? "true" : "false",
            ], on: connection)
            return removed
        }
    }
}
