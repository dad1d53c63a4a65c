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
    public var limit = 50
    public var offset = 0
    public init() {}
}

extension Store {
    /// Inserts a batch of predictions in one statement (one round trip, one commit).
    public func insertPredictions(_ batch: [PredictionRecord]) async throws {
        guard !batch.isEmpty else { return }
        let encoder = JSONEncoder()
        let tops = try batch.map { String(decoding: try encoder.encode($0.topK), as: UTF8.self) }
        try await client.query("""
            INSERT INTO predictions (id, text, adapter_version, intent, confidence, margin, top_k, latency_ms, client_id, metadata, created_at)
            SELECT id, text, v, i, c, m, t::jsonb, l, NULLIF(u, 0), md::jsonb, ts FROM unnest(
                \(batch.map(\.id))::uuid[], \(batch.map(\.text))::text[], \(batch.map(\.adapterVersion))::text[], \(batch.map(\.intent))::text[],
                \(batch.map(\.confidence))::real[], \(batch.map(\.margin))::real[], \(tops)::text[], \(batch.map(\.latencyMs))::real[],
                \(batch.map { $0.clientID ?? 0 })::bigint[], \(batch.map(\.metadata))::text[], \(batch.map(\.createdAt))::timestamptz[]
            ) AS x(id, text, v, i, c, m, t, l, u, md, ts)
            """, logger: logger)
    }

    static let predictionColumns = "p.id, p.text, p.adapter_version, p.intent, p.confidence, p.margin, p.top_k::text, p.latency_ms, p.client_id, p.metadata::text, p.created_at"

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
        let rows = try await client.query("SELECT \(unescaped: Self.predictionColumns) FROM predictions p WHERE p.id = \(id)", logger: logger)
        return try await Self.decodePredictions(rows).first
    }

    /// Predictions nobody has reviewed yet, most uncertain first (smallest top-1 − top-2 margin).
    public func reviewQueue(_ f: QueueFilter) async throws -> [PredictionRecord] {
        let rows = try await client.query("""
            SELECT \(unescaped: Self.predictionColumns) FROM predictions p
            WHERE NOT EXISTS (SELECT 1 FROM feedback f WHERE f.prediction_id = p.id)
              AND (\(f.intent)::text IS NULL OR p.intent = \(f.intent))
              AND (\(f.from)::timestamptz IS NULL OR p.created_at >= \(f.from))
              AND (\(f.to)::timestamptz IS NULL OR p.created_at < \(f.to))
              AND (\(f.minConfidence)::real IS NULL OR p.confidence >= \(f.minConfidence))
              AND (\(f.maxConfidence)::real IS NULL OR p.confidence <= \(f.maxConfidence))
            ORDER BY p.margin, p.created_at DESC LIMIT \(f.limit) OFFSET \(f.offset)
            """, logger: logger)
        return try await Self.decodePredictions(rows)
    }

    public func predictionCount() async throws -> Int {
        let rows = try await client.query("SELECT count(*) FROM predictions", logger: logger)
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }
}
