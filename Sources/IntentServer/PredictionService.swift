import Crypto
import Foundation
import IntentModel
import IntentStore
import LoopCore
import Prometheus

/// Predict, then store: the answer goes out only after its rows are committed.
public struct PredictionService: Sendable {
    public let predictor: Predictor
    let store: Store
    let writer: PredictionWriter
    let metrics: ServerMetrics
    /// Offered every stored prediction (it samples; never blocks the request).
    let shadow: ShadowRunner?
    public static let maxTextLength = InputRules.maxTextScalars
    public static let maxBatch = 64

    /// Most texts waiting for the model before a request is refused (503) instead of queued.
    let maxQueuedTexts: Int

    init(predictor: Predictor, store: Store, metrics: ServerMetrics, maxPendingRows: Int = 4096, maxQueuedTexts: Int = 2048, shadow: ShadowRunner? = nil) {
        self.predictor = predictor
        self.shadow = shadow
        self.maxQueuedTexts = maxQueuedTexts
        self.store = store
        self.metrics = metrics
        writer = PredictionWriter(store: store, maxPendingRows: maxPendingRows, onFlush: { metrics.writeBatch.record(Double($0)) })
    }

    /// What `predict` answers: the stored predictions, and whether they are a replay of an
    /// earlier request with the same Idempotency-Key.
    struct Outcome {
        let predictions: [PredictionRecord]
        let replayed: Bool
    }

    /// Validates, classifies and stores `texts` as one request; `field` names the request field
    /// for errors. With an `idempotencyKey` the client sent before (same texts and metadata),
    /// the stored answer is returned and nothing new is stored.
    func predict(_ texts: [String], clientID: Int64, metadata: [String: String], field: String, idempotencyKey: String?) async throws -> Outcome {
        guard !texts.isEmpty else { throw APIError.invalid(field, "at least one text is required") }
        guard texts.count <= Self.maxBatch else { throw APIError.invalid(field, "at most \(Self.maxBatch) texts per request") }
        for (i, t) in texts.enumerated() {
            if let problem = InputRules.textProblem(t) { throw APIError.invalid(texts.count > 1 ? "\(field).\(i)" : field, "text \(problem)") }
        }
        let metadataJSON: String
        switch InputRules.encodeMetadata(metadata) {
        case .success(let json): metadataJSON = json
        case .failure(let problem): throw APIError.invalid("metadata", problem.message)
        }
        if let key = idempotencyKey, let problem = InputRules.idempotencyKeyProblem(key) { throw APIError.invalid("Idempotency-Key", "Idempotency-Key \(problem)") }
        let digest = Self.digest(texts: texts, field: field, metadata: metadataJSON)
        if let key = idempotencyKey, let earlier = try await replay(clientID: clientID, key: key, digest: digest) { return earlier }
        // The database is away: say so now rather than spend a forward pass on an answer that cannot be stored.
        if let monitor = store.monitor, !monitor.isUp { throw StoreError.unavailable }
        // A flood must not queue without bound in front of the model (memory, and latency for everyone).
        guard predictor.queueDepth + texts.count <= maxQueuedTexts else {
            throw APIError.unavailable("the model is busy: too many texts are waiting; try again shortly")
        }

        let started = DispatchTime.now()
        let result = try await predictor.predict(texts)
        let latency = Float(Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6)
        let now = Date()
        let rows = zip(texts, result.predictions).map { text, p in
            PredictionRecord(id: UUID(), text: text, adapterVersion: result.version, intent: p.intent, confidence: p.confidence,
                             margin: p.margin, topK: p.top.map { .init(intent: $0.intent, confidence: $0.probability) },
                             latencyMs: latency, clientID: clientID, metadata: metadataJSON, createdAt: now)
        }
        do {
            try await writer.write(PredictionRequestRecord(clientID: clientID, idempotencyKey: idempotencyKey, requestHash: digest,
                                                           metadata: metadataJSON, predictions: rows))
        } catch let error as StoreError where error.code == .conflict && idempotencyKey != nil {
            // The same key arrived twice at once: the other request won; answer with its rows.
            if let key = idempotencyKey, let earlier = try await replay(clientID: clientID, key: key, digest: digest) { return earlier }
            throw error
        }
        metrics.predictions.increment(by: Int64(rows.count))
        metrics.recordPredictions(rows)
        shadow?.offer(rows)
        return Outcome(predictions: rows, replayed: false)
    }

    private func replay(clientID: Int64, key: String, digest: String) async throws -> Outcome? {
        guard let stored = try await store.predictionRequest(clientID: clientID, idempotencyKey: key) else { return nil }
        guard stored.requestHash == digest else {
            throw StoreError(.idempotencyMismatch, "this Idempotency-Key was used for a different request; use a new key for a new request",
                             field: "Idempotency-Key")
        }
        return Outcome(predictions: stored.predictions, replayed: true)
    }

    /// Hex SHA-256 of what was asked: the field used, the texts and the metadata.
    static func digest(texts: [String], field: String, metadata: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(field.utf8))
        for t in texts {
            hasher.update(data: Data([0]))  // texts cannot hold NUL (refused above), so this separates them
            hasher.update(data: Data(t.utf8))
        }
        hasher.update(data: Data([0, 0]))
        hasher.update(data: Data(metadata.utf8))
        return hasher.finalize().hex
    }
}
