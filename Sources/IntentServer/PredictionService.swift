import Prometheus
import Foundation
import IntentModel
import IntentStore

/// Predict, then store: the answer goes out only after its rows are committed.
public struct PredictionService: Sendable {
    public let predictor: Predictor
    let writer: PredictionWriter
    let metrics: ServerMetrics
    public static let maxTextLength = 2000
    public static let maxBatch = 64

    init(predictor: Predictor, store: Store, metrics: ServerMetrics) {
        self.predictor = predictor
        self.metrics = metrics
        writer = PredictionWriter(store: store, onFlush: { metrics.writeBatch.record(Double($0)) })
    }

    /// Validates, classifies and stores `texts`; `field` names the request field for errors.
    func predict(_ texts: [String], clientID: Int64?, metadata: String, field: String) async throws -> [PredictionRecord] {
        guard !texts.isEmpty else { throw APIError.invalid(field, "at least one text is required") }
        guard texts.count <= Self.maxBatch else { throw APIError.invalid(field, "at most \(Self.maxBatch) texts per request") }
        for (i, t) in texts.enumerated() {
            let name = texts.count > 1 ? "\(field).\(i)" : field
            guard !t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw APIError.invalid(name, "text is empty") }
            guard t.count <= Self.maxTextLength else { throw APIError.invalid(name, "text is longer than \(Self.maxTextLength) characters") }
        }
        let started = DispatchTime.now()
        let result = try await predictor.predict(texts)
        let latency = Float(Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6)
        let now = Date()
        let rows = zip(texts, result.predictions).map { text, p in
            PredictionRecord(id: UUID(), text: text, adapterVersion: result.version, intent: p.intent, confidence: p.confidence,
                             margin: p.margin, topK: p.top.map { .init(intent: $0.intent, confidence: $0.probability) },
                             latencyMs: latency, clientID: clientID, metadata: metadata, createdAt: now)
        }
        try await writer.write(rows)
        metrics.predictions.increment(by: Int64(rows.count))
        return rows
    }
}
