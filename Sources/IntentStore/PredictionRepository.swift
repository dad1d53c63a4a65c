import Foundation
import PostgresNIO

/// One served prediction as stored.
public struct PredictionRecord: Sendable, Codable, Equatable {
    public struct Scored: Sendable, Codable, Equatable {
        public let intent: String
        public let confidence: Float
        public init(intent: String, confidence: Float) {
            self.intent = intent
            self.confidence = confidence
        }
    }
    public let id: UUID
    public let text: String
    public let adapterVersion: String
    public let intent: String
    public let confidence: Float
    public let margin: Float
    public let topK: [Scored]
    public let latencyMs: Float
    public let clientID: Int64?
    /// The client's metadata, a JSON object as text.
    public let metadata: String
    public let createdAt: Date

    public init(id: UUID, text: String, adapterVersion: String, intent: String, confidence: Float, margin: Float, topK: [Scored],
                latencyMs: Float, clientID: Int64?, metadata: String = "{}", createdAt: Date = Date()) {
        self.id = id
        self.text = text
        self.adapterVersion = adapterVersion
        self.intent = intent
        self.confidence = confidence
        self.margin = margin
        self.topK = topK
        self.latencyMs = latencyMs
        self.clientID = clientID
        self.metadata = metadata
        self.createdAt = createdAt
    }
}

/// Filters of the review queue (all optional).
public struct QueueFilter: Sendable, Equatable {
    public var intent: String?
    public var from: Date?
    public var to: Date?
    public var minConfidence: Float?
    public var maxConfidence: Float?
    /// Predictions at least this confident are left out (the model is very sure of them); nil
    /// keeps them. Shadow disagreements are always kept: their verdicts decide the gate.
    public var confidentAbove: Float?
    public var limit = 50
    public var offset = 0
    public init() {}
}

/// One POST /v1/predict as stored: its predictions, its metadata (once, not per text) and the
/// client's optional Idempotency-Key with a digest of what was asked.
public struct PredictionRequestRecord: Sendable, Equatable {
    public let id: UUID
    public let clientID: Int64?
    public let idempotencyKey: String?
    /// Hex SHA-256 of the request's texts and metadata (compared when a key is replayed).
    public let requestHash: String
    /// A JSON object as text.
    public let metadata: String
    public let predictions: [PredictionRecord]

    public init(id: UUID = UUID(), clientID: Int64?, idempotencyKey: String? = nil, requestHash: String = "", metadata: String = "{}",
                predictions: [PredictionRecord]) {
        self.id = id
        self.clientID = clientID
        self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash
        self.metadata = metadata
        self.predictions = predictions
    }
}

extension Store {
    /// Inserts whole requests with their predictions in one statement (one round trip, one
    /// commit): every row of `batch` or none. A second request with a client's Idempotency-Key
    /// already stored is a `conflict` on field "Idempotency-Key".
    public func insertPredictionRequests(_ batch: [PredictionRequestRecord]) async throws {
        guard !batch.isEmpty else { return }
        let encoder = JSONEncoder()
        let rows = batch.flatMap { r in r.predictions.enumerated().map { (r.id, $0.offset, $0.element) } }
        let tops = try rows.map { String(decoding: try encoder.encode($0.2.topK), as: UTF8.self) }
        do {
            try await query("""
                WITH requests AS (
                    INSERT INTO prediction_requests (id, client_id, idempotency_key, request_hash, metadata, created_at)
                    SELECT id, NULLIF(u, 0), NULLIF(k, ''), decode(NULLIF(h, ''), 'hex'), md::jsonb, ts FROM unnest(
                        \(batch.map(\.id))::uuid[], \(batch.map { $0.clientID ?? 0 })::bigint[], \(batch.map { $0.idempotencyKey ?? "" })::text[],
                        \(batch.map(\.requestHash))::text[], \(batch.map(\.metadata))::text[], \(batch.map { $0.predictions.first?.createdAt ?? Date() })::timestamptz[]
                    ) AS x(id, u, k, h, md, ts)
                )
                INSERT INTO predictions (id, request_id, position, text, adapter_version, intent, confidence, margin, top_k, latency_ms, client_id, created_at)
                SELECT id, r, pos, text, v, i, c, m, t::jsonb, l, NULLIF(u, 0), ts FROM unnest(
                    \(rows.map(\.2.id))::uuid[], \(rows.map(\.0))::uuid[], \(rows.map(\.1))::integer[], \(rows.map(\.2.text))::text[],
                    \(rows.map(\.2.adapterVersion))::text[], \(rows.map(\.2.intent))::text[], \(rows.map(\.2.confidence))::real[],
                    \(rows.map(\.2.margin))::real[], \(tops)::text[], \(rows.map(\.2.latencyMs))::real[], \(rows.map { $0.2.clientID ?? 0 })::bigint[],
                    \(rows.map(\.2.createdAt))::timestamptz[]
                ) AS x(id, r, pos, text, v, i, c, m, t, l, u, ts)
                """)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505"
            && error.serverInfo?[.constraintName] == "prediction_requests_client_id_idempotency_key_key" {
            throw StoreError(.conflict, "a request with this Idempotency-Key is already stored", field: "Idempotency-Key")
        }
    }

    /// The stored request a client sent with `idempotencyKey`: its digest and its predictions in order.
    public func predictionRequest(clientID: Int64, idempotencyKey: String) async throws -> (requestHash: String, predictions: [PredictionRecord])? {
        let found = try await query("""
            SELECT id, COALESCE(encode(request_hash, 'hex'), '') FROM prediction_requests
            WHERE client_id = \(clientID) AND idempotency_key = \(idempotencyKey)
            """)
        for try await (id, hash) in found.decode((UUID, String).self) {
            let rows = try await query("SELECT \(unescaped: Self.predictionColumns) FROM predictions p WHERE p.request_id = \(id) ORDER BY p.position")
            return (hash, try await Self.decodePredictions(rows))
        }
        return nil
    }

    static let predictionColumns = "p.id, p.text, p.adapter_version, p.intent, p.confidence, p.margin, p.top_k::text, p.latency_ms, p.client_id, COALESCE((SELECT r.metadata FROM prediction_requests r WHERE r.id = p.request_id), p.metadata)::text, p.created_at"

    static func decodePredictions(_ rows: PostgresRowSequence) async throws -> [PredictionRecord] {
        var out: [PredictionRecord] = []
        let decoder = JSONDecoder()
        for try await (id, text, version, intent, confidence, margin, top, latency, client, metadata, created)
            in rows.decode((UUID, String, String, String, Float, Float, String, Float, Int64?, String, Date).self) {
            let scored = (try? decoder.decode([PredictionRecord.Scored].self, from: Data(top.utf8))) ?? []
            out.append(PredictionRecord(id: id, text: text, adapterVersion: version, intent: intent, confidence: confidence, margin: margin,
                                        topK: scored, latencyMs: latency, clientID: client, metadata: metadata, createdAt: created))
        }
        return out
    }

    public func prediction(id: UUID) async throws -> PredictionRecord? {
        let rows = try await self.query("SELECT \(unescaped: Self.predictionColumns) FROM predictions p WHERE p.id = \(id)")
        return try await Self.decodePredictions(rows).first
    }

    /// Predictions nobody has reviewed yet: first those where the shadow adapter disagrees with
    /// the served answer (their verdicts decide the gate's paired test; newest first, not by
    /// production's margin, which would pick the items production gets wrong), then the most
    /// uncertain (smallest top-1 − top-2 margin). Two bounded branches, each walking an index
    /// (shadow_predictions by adapter and time; predictions by margin), so a queue page does not
    /// sort every unreviewed prediction.
    public func reviewQueue(_ f: QueueFilter) async throws -> [PredictionRecord] {
        let depth = f.offset + f.limit
        let rows = try await self.query("""
            WITH shadow AS (SELECT version FROM adapters WHERE status = 'shadow'),
            disagreements AS (
                SELECT p.id, 0 AS branch, 0::real AS margin, p.created_at FROM shadow_predictions s
                JOIN predictions p ON p.id = s.prediction_id
                WHERE s.adapter_version = (SELECT version FROM shadow) AND s.intent <> p.intent
                  AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.prediction_id = p.id)
                  AND (\(f.intent)::text IS NULL OR p.intent = \(f.intent))
                  AND (\(f.from)::timestamptz IS NULL OR p.created_at >= \(f.from))
                  AND (\(f.to)::timestamptz IS NULL OR p.created_at < \(f.to))
                  AND (\(f.minConfidence)::real IS NULL OR p.confidence >= \(f.minConfidence))
                  AND (\(f.maxConfidence)::real IS NULL OR p.confidence <= \(f.maxConfidence))
                ORDER BY p.created_at DESC, p.id LIMIT \(depth)
            ),
            uncertain AS (
                SELECT p.id, 1 AS branch, p.margin, p.created_at FROM predictions p
                WHERE NOT EXISTS (SELECT 1 FROM feedback f WHERE f.prediction_id = p.id)
                  AND NOT EXISTS (SELECT 1 FROM shadow_predictions s WHERE s.prediction_id = p.id
                                  AND s.adapter_version = (SELECT version FROM shadow) AND s.intent <> p.intent)
                  AND (\(f.intent)::text IS NULL OR p.intent = \(f.intent))
                  AND (\(f.from)::timestamptz IS NULL OR p.created_at >= \(f.from))
                  AND (\(f.to)::timestamptz IS NULL OR p.created_at < \(f.to))
                  AND (\(f.minConfidence)::real IS NULL OR p.confidence >= \(f.minConfidence))
                  AND (\(f.maxConfidence)::real IS NULL OR p.confidence <= \(f.maxConfidence))
                  AND (\(f.confidentAbove)::real IS NULL OR p.confidence < \(f.confidentAbove))
                ORDER BY p.margin, p.created_at DESC, p.id LIMIT \(depth)
            ),
            page AS (
                SELECT * FROM (SELECT * FROM disagreements UNION ALL SELECT * FROM uncertain) q
                ORDER BY q.branch, q.margin, q.created_at DESC, q.id LIMIT \(f.limit) OFFSET \(f.offset)
            )
            SELECT \(unescaped: Self.predictionColumns) FROM page JOIN predictions p ON p.id = page.id
            ORDER BY page.branch, page.margin, page.created_at DESC, page.id
            """)
        return try await Self.decodePredictions(rows)
    }

    public func predictionCount() async throws -> Int {
        let rows = try await self.query("SELECT count(*) FROM predictions")
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }
}

extension Store {
    /// Inserts predictions as one request without metadata or key (tools and tests).
    public func insertPredictions(_ rows: [PredictionRecord]) async throws {
        guard !rows.isEmpty else { return }
        try await insertPredictionRequests([PredictionRequestRecord(clientID: rows[0].clientID, predictions: rows)])
    }
}
