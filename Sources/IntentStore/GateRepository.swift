import Foundation
import LoopCore
import PostgresNIO

/// PostgreSQL's channel on which every change of the production or shadow adapter is announced
/// (sent inside the changing transaction, so it arrives at commit); replicas reload on it.
public let adapterChangesChannel = "intentloop_adapters"

/// What an adapter predicted for one evaluation item.
public struct AdapterOutcome: Sendable, Equatable {
    public enum Source: String, Sendable, Codable, CaseIterable { case evaluationPool = "evaluation_pool", golden }
    public let source: Source
    public let text: String
    public let label: String
    public let predicted: String
    public let confidence: Float
    public init(source: Source, text: String, label: String, predicted: String, confidence: Float) {
        self.source = source
        self.text = text
        self.label = label
        self.predicted = predicted
        self.confidence = confidence
    }
}

/// A shadow adapter's prediction for a served (already stored) prediction.
public struct ShadowPrediction: Sendable {
    public let predictionID: UUID
    public let adapterVersion: String
    public let intent: String
    public let confidence: Float
    public init(predictionID: UUID, adapterVersion: String, intent: String, confidence: Float) {
        self.predictionID = predictionID
        self.adapterVersion = adapterVersion
        self.intent = intent
        self.confidence = confidence
    }
}

extension Store {
    // MARK: Policy

    /// The stored gate policy, or the defaults when none was saved.
    /// A stored policy that is no longer valid (written by hand, or by an older version with wider
    /// ranges) is not used: the defaults are, with a warning.
    public func gatePolicy() async throws -> GatePolicy {
        let rows = try await query("SELECT policy::text FROM gate_policy")
        for try await text in rows.decode(String.self) {
            guard let policy = try? JSONDecoder().decode(GatePolicy.self, from: Data(text.utf8)), policy.problems().isEmpty else {
                logger.warning("the stored gate policy is not valid; using the defaults until an admin saves one", metadata: ["gate.policy": "\(text)"])
                return GatePolicy()
            }
            return policy
        }
        return GatePolicy()
    }

    /// Saves a valid policy (audited); an invalid one is refused naming its first bad field.
    public func setGatePolicy(_ policy: GatePolicy, actor: Int64?) async throws {
        if let problem = policy.problems().first { throw StoreError(.invalid, "\(problem.field) \(problem.message)", field: problem.field) }
        let json = try jsonText(policy)
        try await transaction { c in
            _ = try await c.query("""
                INSERT INTO gate_policy (id, policy, updated_by) VALUES (true, \(json)::jsonb, \(actor))
                ON CONFLICT (id) DO UPDATE SET policy = EXCLUDED.policy, updated_by = EXCLUDED.updated_by, updated_at = now()
                """, logger: self.logger)
            try await self.audit(actor: actor, action: "gate.policy", details: ["policy": json], on: c)
            // Replicas re-read the shadow sample rate at once rather than at their next poll.
            _ = try await c.query("SELECT pg_notify(\(adapterChangesChannel), 'policy')", logger: self.logger)
        }
    }

    // MARK: Evidence

    /// Stores (or refreshes) what `version` predicted for each evaluation item, inside the caller's transaction.
    /// An utterance listed twice with different labels (a golden file re-imported with a corrected
    /// label keeps both rows) is ambiguous evidence and left out; an exact repeat is stored once.
    public func storeOutcomes(_ outcomes: [AdapterOutcome], version: String, on connection: PostgresConnection) async throws {
        struct Key: Hashable {
            let source: AdapterOutcome.Source
            let text: String
        }
        var labels: [Key: Set<String>] = [:]
        for o in outcomes { labels[Key(source: o.source, text: o.text), default: []].insert(o.label) }
        var seen = Set<Key>()
        let unique = outcomes.filter { o in
            let key = Key(source: o.source, text: o.text)
            return labels[key]!.count == 1 && seen.insert(key).inserted
        }
        for chunk in stride(from: 0, to: unique.count, by: 2000).map({ Array(unique[$0..<min($0 + 2000, unique.count)]) }) {
            let sources = chunk.map(\.source.rawValue), texts = chunk.map(\.text), labels = chunk.map(\.label)
            let predicted = chunk.map(\.predicted), confidences = chunk.map(\.confidence)
            _ = try await connection.query("""
                INSERT INTO adapter_outcomes (adapter_version, source, text_sha256, text, label, predicted, confidence)
                SELECT \(version), s, sha256(convert_to(t, 'UTF8')), t, l, p, c
                FROM unnest(\(sources)::text[], \(texts)::text[], \(labels)::text[], \(predicted)::text[], \(confidences)::real[]) AS u (s, t, l, p, c)
                ON CONFLICT (adapter_version, source, text_sha256) DO UPDATE
                SET label = EXCLUDED.label, predicted = EXCLUDED.predicted, confidence = EXCLUDED.confidence, evaluated_at = now()
                """, logger: logger)
        }
    }

    /// Items both adapters were evaluated on with the same label, by source.
    public func pairedOutcomes(candidate: String, baseline: String) async throws -> [AdapterOutcome.Source: [PairedItem]] {
        let rows = try await query("""
            SELECT c.source, c.label, c.predicted, b.predicted FROM adapter_outcomes c
            JOIN adapter_outcomes b ON b.adapter_version = \(baseline) AND b.source = c.source AND b.text_sha256 = c.text_sha256 AND b.label = c.label
            WHERE c.adapter_version = \(candidate) ORDER BY c.source, c.text_sha256
            """)
        var out: [AdapterOutcome.Source: [PairedItem]] = [:]
        for try await (source, label, c, b) in rows.decode((String, String, String, String).self) {
            guard let s = AdapterOutcome.Source(rawValue: source) else { continue }
            out[s, default: []].append(PairedItem(label: label, candidate: c, baseline: b))
        }
        return out
    }

    /// The oldest adapter that served in production and has golden-set outcomes stored (its
    /// children's jobs store them): the gate's floor for each intent's recall.
    public func firstProductionWithGolden() async throws -> String? {
        let rows = try await query("""
            SELECT a.version FROM adapters a
            WHERE a.status IN ('production', 'retired')
              AND EXISTS (SELECT 1 FROM adapter_outcomes o WHERE o.adapter_version = a.version AND o.source = 'golden')
            ORDER BY a.created_at, a.version LIMIT 1
            """)
        for try await v in rows.decode(String.self) { return v }
        return nil
    }

    /// Writes shadow predictions (one INSERT); a prediction already shadowed is skipped.
    public func insertShadowPredictions(_ rows: [ShadowPrediction]) async throws {
        guard !rows.isEmpty else { return }
        _ = try await query("""
            INSERT INTO shadow_predictions (prediction_id, adapter_version, intent, confidence)
            SELECT * FROM unnest(\(rows.map(\.predictionID))::uuid[], \(rows.map(\.adapterVersion))::text[], \(rows.map(\.intent))::text[],
                                 \(rows.map(\.confidence))::real[])
            ON CONFLICT DO NOTHING
            """)
    }

    /// Live traffic that `candidate` shadowed while `baseline` served: how many, how many agreed,
    /// and those agents have since confirmed or corrected, as paired items.
    public func shadowEvidence(candidate: String, baseline: String) async throws -> (predictions: Int, agreements: Int, labelled: [PairedItem]) {
        var predictions = 0, agreements = 0
        let counts = try await query("""
            SELECT count(*), count(*) FILTER (WHERE s.intent = p.intent) FROM shadow_predictions s
            JOIN predictions p ON p.id = s.prediction_id
            WHERE s.adapter_version = \(candidate) AND p.adapter_version = \(baseline)
            """)
        for try await (n, agree) in counts.decode((Int64, Int64).self) {
            predictions = Int(n)
            agreements = Int(agree)
        }
        // One item per utterance (case- and space-insensitive, the latest verdict): a frequent
        // utterance labelled many times is one piece of evidence, not many independent pairs.
        let rows = try await query("""
            SELECT label, c, b FROM (
                SELECT DISTINCT ON (lower(btrim(p.text))) f.intent AS label, s.intent AS c, p.intent AS b, f.id AS fid
                FROM shadow_predictions s
                JOIN predictions p ON p.id = s.prediction_id
                JOIN feedback f ON f.prediction_id = p.id AND f.verdict IN ('confirm', 'correct')
                WHERE s.adapter_version = \(candidate) AND p.adapter_version = \(baseline)
                ORDER BY lower(btrim(p.text)), f.id DESC
            ) d ORDER BY fid
            """)
        var labelled: [PairedItem] = []
        for try await (label, c, b) in rows.decode((String, String, String).self) { labelled.append(PairedItem(label: label, candidate: c, baseline: b)) }
        return (predictions, agreements, labelled)
    }

    /// Shadow agreement per hour between two adapters (either one serving).
    public func shadowAgreementSeries(_ a: String, _ b: String) async throws -> [(hour: Date, predictions: Int, agreements: Int)] {
        let rows = try await query("""
            SELECT date_trunc('hour', s.created_at) AS h, count(*), count(*) FILTER (WHERE s.intent = p.intent) FROM shadow_predictions s
            JOIN predictions p ON p.id = s.prediction_id
            WHERE (s.adapter_version = \(b) AND p.adapter_version = \(a)) OR (s.adapter_version = \(a) AND p.adapter_version = \(b))
            GROUP BY h ORDER BY h
            """)
        var out: [(Date, Int, Int)] = []
        for try await (hour, n, agree) in rows.decode((Date, Int64, Int64).self) { out.append((hour, Int(n), Int(agree))) }
        return out
    }

    /// Recent live utterances where the two adapters disagreed, with the agents' label when there is one.
    public func shadowDisagreements(_ a: String, _ b: String, limit: Int) async throws -> [ShadowDisagreement] {
        let rows = try await query("""
            SELECT p.id, p.text, CASE WHEN p.adapter_version = \(a) THEN p.intent ELSE s.intent END,
                   CASE WHEN p.adapter_version = \(a) THEN s.intent ELSE p.intent END, f.intent, p.created_at
            FROM shadow_predictions s JOIN predictions p ON p.id = s.prediction_id
            LEFT JOIN feedback f ON f.prediction_id = p.id AND f.verdict IN ('confirm', 'correct')
            WHERE ((s.adapter_version = \(b) AND p.adapter_version = \(a)) OR (s.adapter_version = \(a) AND p.adapter_version = \(b)))
              AND s.intent <> p.intent
            ORDER BY (f.intent IS NULL), p.created_at DESC LIMIT \(limit)
            """)
        var out: [ShadowDisagreement] = []
        for try await (id, text, pa, pb, label, at) in rows.decode((UUID, String, String, String, String?, Date).self) {
            out.append(ShadowDisagreement(predictionID: id, text: text, a: pa, b: pb, label: label, createdAt: at))
        }
        return out
    }
}

/// A live utterance on which two adapters disagreed.
public struct ShadowDisagreement: Sendable, Codable, Equatable {
    public let predictionID: UUID
    public let text: String
    public let a: String
    public let b: String
    /// What an agent said, when one has.
    public let label: String?
    public let createdAt: Date
    enum CodingKeys: String, CodingKey {
        case text, a, b, label
        case predictionID = "prediction_id", createdAt = "created_at"
    }
}
