import Foundation
import PostgresNIO

public struct IntentRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable { case active, proposed, rejected, retired }
    public let name: String
    public let status: Status
    public let description: String
    public let examples: Int
}

extension Store {
    /// Intents by name; proposed and rejected ones only when asked.
    public func intents(includeProposed: Bool = false) async throws -> [IntentRecord] {
        let rows = try await self.query("""
            SELECT i.name, i.status, i.description, (SELECT count(*) FROM examples e WHERE e.intent = i.name AND e.kind = 'training')
            FROM intents i WHERE i.status = 'active' OR \(includeProposed) ORDER BY i.name
            """)
        var out: [IntentRecord] = []
        for try await (name, status, description, count) in rows.decode((String, String, String, Int64).self) {
            out.append(IntentRecord(name: name, status: .init(rawValue: status) ?? .active, description: description, examples: Int(count)))
        }
        return out
    }

    /// The status of one intent, or nil when unknown.
    /// The intent's status, nil when there is none; with `lock` (on `connection`'s transaction)
    /// the row is held FOR SHARE until the transaction ends.
    public func intentStatus(_ name: String, on connection: PostgresConnection? = nil, lock: Bool = false) async throws -> IntentRecord.Status? {
        let query: PostgresQuery = lock && connection != nil ? "SELECT status FROM intents WHERE name = \(name) FOR SHARE"
            : "SELECT status FROM intents WHERE name = \(name)"
        let rows = if let connection { try await connection.query(query, logger: logger) } else { try await self.query(query) }
        for try await status in rows.decode(String.self) { return IntentRecord.Status(rawValue: status) }
        return nil
    }

    static func validIntentName(_ name: String) -> Bool { InputRules.validIntentName(name) }

    /// An agent proposes a new intent: it waits for an admin's approval before it enters the
    /// taxonomy. The proposal and its audit row are one transaction (`connection`'s, when given).
    public func proposeIntent(_ name: String, by userID: Int64, description: String = "", on connection: PostgresConnection? = nil) async throws {
        guard Self.validIntentName(name) else {
            throw StoreError(.invalid, "intent names are 1–100 letters, digits or _.:/-", field: "intent")
        }
        if let problem = InputRules.textProblem(description, required: false) { throw StoreError(.invalid, "description \(problem)", field: "description") }
        guard let connection else {
            return try await transaction { try await self.proposeIntent(name, by: userID, description: description, on: $0) }
        }
        let rows = try await connection.query("""
            INSERT INTO intents (name, status, description, proposed_by) VALUES (\(name), 'proposed', \(description), \(userID))
            ON CONFLICT (name) DO NOTHING RETURNING name
            """, logger: logger)
        var inserted = false
        for try await _ in rows { inserted = true }
        if inserted { try await audit(actor: userID, action: "intent.propose", subject: name, on: connection) }
    }
}

/// A proposed intent (or a decided one) with what an admin needs to decide it: who proposed it,
/// how many verdicts name it, the latest of them with the agents' notes.
public struct IntentProposal: Sendable, Equatable {
    public struct Utterance: Sendable, Equatable {
        public let text: String
        public let note: String
        public let verdict: Verdict
        /// What the model said, for a correction.
        public let predictedIntent: String?
        /// The agent's username (nil when the user is gone).
        public let agent: String?
        public let createdAt: Date
    }

    public let name: String
    public let status: IntentRecord.Status
    public let description: String
    /// The proposer's username; nil for an intent no user proposed (imported).
    public let proposedBy: String?
    public let createdAt: Date
    public let decidedBy: String?
    public let decidedAt: Date?
    /// For a proposal merged into another intent: that intent (its feedback moved there).
    public let mergedInto: String?
    /// Verdicts naming this intent, and how many agents gave them.
    public let feedbackCount: Int
    public let agentCount: Int
    /// The latest verdicts naming it, newest first (at most the `utterances` asked for).
    public internal(set) var utterances: [Utterance]
}

/// One row of an agent's history with the status of the intent it names now (nil: unknown).
public struct AgentHistoryItem: Sendable, Equatable {
    public let feedback: FeedbackRecord
    public let intentStatus: IntentRecord.Status?
}

extension Store {
    /// Why `name` cannot be a new intent name (nil when it can): the `intents.name` rule, and no
    /// empty, "." or ".." part between slashes ("billing/refund" is fine, "../x" and "a//b" are not).
    public static func newIntentNameProblem(_ name: String) -> String? {
        guard !name.isEmpty else { return "is empty" }
        guard InputRules.validIntentName(name) else { return "must be 1–100 letters, digits or _.:/- (no spaces)" }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            return "must not start or end with /, or have an empty, \".\" or \"..\" part between slashes"
        }
        return nil
    }

    /// The proposals waiting for an admin, oldest first (at most `limit`), each with its latest
    /// `utterances` verdicts; and how many proposals there are in all. Two queries whatever the count.
    public func intentProposals(limit: Int = 100, utterances: Int = 5) async throws -> (proposals: [IntentProposal], total: Int) {
        let rows = try await self.query("""
            SELECT i.name, i.description, i.created_at, pu.username, c.n, c.agents, count(*) OVER ()
            FROM intents i
            LEFT JOIN users pu ON pu.id = i.proposed_by
            CROSS JOIN LATERAL (SELECT count(*) AS n, count(DISTINCT f.agent_id) AS agents FROM feedback f WHERE f.intent = i.name) c
            WHERE i.status = 'proposed'
            ORDER BY i.created_at, i.name LIMIT \(limit)
            """)
        var out: [IntentProposal] = []
        var total = 0
        for try await (name, description, created, proposer, n, agents, all)
            in rows.decode((String, String, Date, String?, Int64, Int64, Int64).self) {
            total = Int(all)
            out.append(IntentProposal(name: name, status: .proposed, description: description, proposedBy: proposer, createdAt: created,
                                      decidedBy: nil, decidedAt: nil, mergedInto: nil, feedbackCount: Int(n), agentCount: Int(agents),
                                      utterances: []))
        }
        let latest = try await latestUtterances(of: out.map(\.name), limit: utterances)
        for i in out.indices { out[i].utterances = latest[out[i].name] ?? [] }
        return (out, total)
    }

    /// One proposal still waiting for an admin, with its latest `utterances` verdicts; nil when
    /// `name` is not (or no longer) a proposal.
    public func intentProposal(_ name: String, utterances: Int = 5) async throws -> IntentProposal? {
        let rows = try await self.query("""
            SELECT i.description, i.created_at, pu.username, c.n, c.agents
            FROM intents i
            LEFT JOIN users pu ON pu.id = i.proposed_by
            CROSS JOIN LATERAL (SELECT count(*) AS n, count(DISTINCT f.agent_id) AS agents FROM feedback f WHERE f.intent = i.name) c
            WHERE i.name = \(name) AND i.status = 'proposed'
            """)
        var found: IntentProposal?
        for try await (description, created, proposer, n, agents) in rows.decode((String, Date, String?, Int64, Int64).self) {
            found = IntentProposal(name: name, status: .proposed, description: description, proposedBy: proposer, createdAt: created,
                                   decidedBy: nil, decidedAt: nil, mergedInto: nil, feedbackCount: Int(n), agentCount: Int(agents), utterances: [])
        }
        guard var proposal = found else { return nil }
        proposal.utterances = try await latestUtterances(of: [name], limit: utterances)[name] ?? []
        return proposal
    }

    /// The latest `limit` verdicts naming each of `names`, newest first (one query, bounded).
    public func latestUtterances(of names: [String], limit: Int = 5) async throws -> [String: [IntentProposal.Utterance]] {
        guard !names.isEmpty, limit > 0 else { return [:] }
        let rows = try await self.query("""
            SELECT p.name, f.text, f.note, f.verdict, f.predicted_intent, u.username, f.created_at
            FROM unnest(\(names)::text[]) AS p(name)
            CROSS JOIN LATERAL (
                SELECT text, note, verdict, predicted_intent, agent_id, created_at, id FROM feedback
                WHERE intent = p.name ORDER BY created_at DESC, id DESC LIMIT \(limit)) f
            LEFT JOIN users u ON u.id = f.agent_id
            ORDER BY p.name, f.created_at DESC, f.id DESC
            """)
        var out: [String: [IntentProposal.Utterance]] = [:]
        for try await (name, text, note, verdict, predicted, agent, created)
            in rows.decode((String, String, String, String, String?, String?, Date).self) {
            out[name, default: []].append(.init(text: text, note: note, verdict: Verdict(rawValue: verdict) ?? .submit, predictedIntent: predicted,
                                                agent: agent, createdAt: created))
        }
        return out
    }

    /// Intents an admin (or an import) decided, latest decision first (at most `limit`).
    public func decidedIntents(limit: Int = 50) async throws -> [IntentProposal] {
        let rows = try await self.query("""
            SELECT i.name, i.status, i.description, i.created_at, pu.username, du.username, i.decided_at, i.merged_into, c.n, c.agents
            FROM intents i
            LEFT JOIN users pu ON pu.id = i.proposed_by
            LEFT JOIN users du ON du.id = i.decided_by
            CROSS JOIN LATERAL (SELECT count(*) AS n, count(DISTINCT f.agent_id) AS agents FROM feedback f WHERE f.intent = i.name) c
            WHERE i.decided_at IS NOT NULL AND i.status <> 'proposed'
            ORDER BY i.decided_at DESC, i.name LIMIT \(limit)
            """)
        var out: [IntentProposal] = []
        for try await (name, status, description, created, proposer, decider, decided, merged, n, agents)
            in rows.decode((String, String, String, Date, String?, String?, Date?, String?, Int64, Int64).self) {
            let s = IntentRecord.Status(rawValue: status) ?? .rejected
            out.append(IntentProposal(name: name, status: s, description: description, proposedBy: proposer, createdAt: created,
                                      decidedBy: decider, decidedAt: decided, mergedInto: s == .rejected ? merged : nil,
                                      feedbackCount: Int(n), agentCount: Int(agents), utterances: []))
        }
        return out
    }

    /// Locks `name`'s row for the rest of the transaction; refused unless it is still a proposal
    /// (another admin's decision, rename or merge that committed first is named in the message).
    func lockProposal(_ name: String, on connection: PostgresConnection) async throws {
        let rows = try await connection.query("""
            SELECT i.status, i.merged_into, u.username FROM intents i LEFT JOIN users u ON u.id = i.decided_by
            WHERE i.name = \(name) FOR UPDATE OF i
            """, logger: logger)
        for try await (status, merged, decider) in rows.decode((String, String?, String?).self) {
            guard status != "proposed" else { return }
            let what = switch status {
            case "active": "approved"
            case "rejected": merged.map { "merged into '\($0)'" } ?? "rejected"
            default: status
            }
            throw StoreError(.conflict, "'\(name.prefix(100))' is no longer a proposal: it was \(what)\(decider.map { " by \($0)" } ?? "")",
                             field: "name")
        }
        throw StoreError(.notFound, "no proposed intent '\(name.prefix(100))' (it may have been renamed)", field: "name")
    }

    /// Verdicts naming `name` (on `connection`).
    func feedbackCount(naming name: String, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query("SELECT count(*) FROM feedback WHERE intent = \(name)", logger: logger)
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }

    /// An admin approves (the intent becomes active) or rejects a proposed intent, with its audit
    /// row in the same transaction. The row is locked first: of two admins deciding at once, the
    /// second is refused (`.conflict`, naming the first's decision). Returns the verdicts naming it.
    @discardableResult
    public func decideIntent(_ name: String, approve: Bool, by userID: Int64) async throws -> Int {
        let status = approve ? "active" : "rejected"
        return try await transaction { connection in
            try await self.lockProposal(name, on: connection)
            try await connection.query("""
                UPDATE intents SET status = \(status), decided_by = \(userID), decided_at = now() WHERE name = \(name) AND status = 'proposed'
                """, logger: self.logger)
            let count = try await self.feedbackCount(naming: name, on: connection)
            try await self.audit(actor: userID, action: approve ? "intent.approve" : "intent.reject", subject: name,
                                 details: ["feedback": "\(count)"], on: connection)
            return count
        }
    }

    /// An admin renames a proposal (it stays proposed, with its proposer and description): the
    /// intent's row and every verdict naming it move to `newName`, in one audited transaction.
    /// Refused: an invalid new name, one that already exists (`.conflict`), a decided proposal.
    /// Returns the verdicts moved.
    @discardableResult
    public func renameProposedIntent(_ name: String, to newName: String, by userID: Int64) async throws -> Int {
        if let problem = Self.newIntentNameProblem(newName) { throw StoreError(.invalid, "the new name \(problem)", field: "new_name") }
        guard newName != name else { throw StoreError(.invalid, "the new name is the proposal's name", field: "new_name") }
        return try await transaction { connection in
            try await self.lockProposal(name, on: connection)
            let inserted = try await connection.query("""
                INSERT INTO intents (name, status, description, proposed_by, created_at)
                SELECT \(newName), 'proposed', description, proposed_by, created_at FROM intents WHERE name = \(name)
                ON CONFLICT (name) DO NOTHING RETURNING name
                """, logger: self.logger)
            var created = false
            for try await _ in inserted.decode(String.self) { created = true }
            guard created else {
                let existing = try await self.intentStatus(newName, on: connection)
                let hint = existing == .active ? ": to move this proposal's utterances into it, merge instead" : ""
                throw StoreError(.conflict, "an intent named '\(newName)' already exists (\(existing?.rawValue ?? "taken"))\(hint)", field: "new_name")
            }
            let moved = try await self.countRows(connection, """
                WITH m AS (UPDATE feedback SET intent = \(newName) WHERE intent = \(name) RETURNING 1) SELECT count(*) FROM m
                """)
            try await connection.query("UPDATE examples SET intent = \(newName) WHERE intent = \(name)", logger: self.logger)
            try await connection.query("DELETE FROM intents WHERE name = \(name)", logger: self.logger)
            try await self.audit(actor: userID, action: "intent.rename", subject: name, details: ["to": newName, "feedback_moved": "\(moved)"],
                                 on: connection)
            return moved
        }
    }

    /// An admin merges a proposal into an existing active intent: every verdict naming the
    /// proposal names `target` instead (a correction that now names what the model predicted
    /// becomes a confirmation), and the proposal is kept as rejected with `merged_into`, in one
    /// audited transaction. Refused: an unknown target (`.notFound`), a target that is not active
    /// (`.conflict`), a decided proposal. Returns the verdicts moved.
    @discardableResult
    public func mergeProposedIntent(_ name: String, into target: String, by userID: Int64) async throws -> Int {
        guard InputRules.validIntentName(target) else { throw StoreError(.invalid, "the intent to merge into is not an intent name", field: "target") }
        guard target != name else { throw StoreError(.invalid, "a proposal cannot be merged into itself", field: "target") }
        return try await transaction { connection in
            try await self.lockProposal(name, on: connection)
            // A share lock: the target cannot be retired or removed until this commits.
            let rows = try await connection.query("SELECT status FROM intents WHERE name = \(target) FOR SHARE", logger: self.logger)
            var status: String?
            for try await s in rows.decode(String.self) { status = s }
            guard let status else { throw StoreError(.notFound, "no intent named '\(target)' to merge into", field: "target") }
            guard status == "active" else {
                throw StoreError(.conflict, "'\(target)' is \(status), not active: a proposal can only be merged into an active intent", field: "target")
            }
            let changed = try await connection.query("""
                WITH old AS (SELECT id, verdict FROM feedback WHERE intent = \(name) FOR UPDATE),
                m AS (
                    UPDATE feedback f SET intent = \(target),
                        verdict = CASE WHEN f.verdict = 'correct' AND f.predicted_intent = \(target) THEN 'confirm' ELSE f.verdict END
                    FROM old WHERE f.id = old.id RETURNING old.verdict AS was, f.verdict AS now)
                SELECT count(*), count(*) FILTER (WHERE was <> now) FROM m
                """, logger: self.logger)
            var moved = 0, confirmed = 0
            for try await (n, c) in changed.decode((Int64, Int64).self) { (moved, confirmed) = (Int(n), Int(c)) }
            try await connection.query("""
                DELETE FROM examples e WHERE e.intent = \(name)
                  AND EXISTS (SELECT 1 FROM examples t WHERE t.kind = e.kind AND t.text = e.text AND t.intent = \(target))
                """, logger: self.logger)
            try await connection.query("UPDATE examples SET intent = \(target) WHERE intent = \(name)", logger: self.logger)
            try await connection.query("""
                UPDATE intents SET status = 'rejected', merged_into = \(target), decided_by = \(userID), decided_at = now() WHERE name = \(name)
                """, logger: self.logger)
            try await self.audit(actor: userID, action: "intent.merge", subject: name, details: [
                "into": target, "feedback_moved": "\(moved)", "corrections_now_confirmations": "\(confirmed)",
            ], on: connection)
            return moved
        }
    }

    /// An agent's own verdicts and submissions, newest first, each with its intent's status now
    /// (a proposal still waiting for an admin shows as `.proposed`).
    public func historyWithIntentStatus(agentID: Int64, limit: Int = 100) async throws -> [AgentHistoryItem] {
        let rows = try await self.query("""
            SELECT f.id, f.prediction_id, f.text, f.verdict, f.intent, f.predicted_intent, f.note, f.created_at, i.status
            FROM feedback f LEFT JOIN intents i ON i.name = f.intent
            WHERE f.agent_id = \(agentID) ORDER BY f.created_at DESC, f.id DESC LIMIT \(limit)
            """)
        var out: [AgentHistoryItem] = []
        for try await (id, prediction, text, verdict, intent, predicted, note, created, status)
            in rows.decode((Int64, UUID?, String, String, String, String?, String, Date, String?).self) {
            let f = FeedbackRecord(id: id, predictionID: prediction, text: text, verdict: Verdict(rawValue: verdict) ?? .submit, intent: intent,
                                   predictedIntent: predicted, note: note, createdAt: created)
            out.append(AgentHistoryItem(feedback: f, intentStatus: status.flatMap(IntentRecord.Status.init(rawValue:))))
        }
        return out
    }

    /// One count from `sql` on `connection`.
    func countRows(_ connection: PostgresConnection, _ sql: PostgresQuery) async throws -> Int {
        let rows = try await connection.query(sql, logger: logger)
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }
}
