import Prometheus
import Foundation
import HTTPTypes
import Hummingbird
import IntentData
import IntentStore

/// JSON API: predict, feedback, intents, dataset import/export.
struct APIRoutes {
    let store: Store
    let predictions: PredictionService
    let metrics: ServerMetrics

    func add(to router: Router<AppContext>) {
        let v1 = router.group("v1")
        v1.post("predict", use: predict)
        v1.post("feedback", use: feedback)
        v1.get("intents", use: intents)
        v1.post("import", use: importExamples)
        v1.get("export", use: exportExamples)
        v1.get("predictions/:id", use: prediction)
        v1.get("queue", use: reviewQueue)
    }

    // MARK: review queue

    /// GET /v1/queue?limit=&offset=&intent=&min_confidence=&max_confidence= (agent): the review
    /// queue in the order the page shows it — predictions a shadow candidate disagrees with first,
    /// then the smallest top-1 margin.
    @Sendable func reviewQueue(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.agent)
        let q = request.uri.queryParameters
        func text(_ key: String) -> String? { q[Substring(key)].map(String.init).flatMap { $0.isEmpty ? nil : $0 } }
        var filter = QueueFilter()
        filter.limit = try QueryParameter.integer(text("limit"), field: "limit", in: 1...1000) ?? 50
        filter.offset = try QueryParameter.integer(text("offset"), field: "offset", in: 0...100_000) ?? 0
        filter.intent = text("intent")
        if let intent = filter.intent, !InputRules.validIntentName(intent) { throw APIError.invalid("intent", "not an intent name") }
        filter.minConfidence = try QueryParameter.fraction(text("min_confidence"), field: "min_confidence")
        filter.maxConfidence = try QueryParameter.fraction(text("max_confidence"), field: "max_confidence")
        struct Item: Encodable {
            let id: String
            let text: String
            let intent: String
            let confidence: Float
            let margin: Float
            let adapterVersion: String
            let createdAt: Date
        }
        struct Page: Encodable { let predictions: [Item] }
        let items = try await store.reviewQueue(filter).map {
            Item(id: $0.id.uuidString.lowercased(), text: $0.text, intent: $0.intent, confidence: $0.confidence, margin: $0.margin,
                 adapterVersion: $0.adapterVersion, createdAt: $0.createdAt)
        }
        return try json(Page(predictions: items))
    }

    // MARK: predict

    struct PredictRequest: Decodable {
        let text: String?
        let texts: [String]?
        let metadata: [String: String]?
    }

    struct PredictionJSON: Encodable {
        let id: String
        let intent: String
        let confidence: Float
        let topK: [PredictionRecord.Scored]
        let adapterVersion: String
        init(_ r: PredictionRecord) {
            id = r.id.uuidString.lowercased()
            intent = r.intent
            confidence = r.confidence
            topK = r.topK
            adapterVersion = r.adapterVersion
        }
    }

    struct BatchJSON: Encodable { let predictions: [PredictionJSON] }

    @Sendable func predict(_ request: Request, context: AppContext) async throws -> Response {
        let user = try context.require(.client)
        let body: PredictRequest = try await decodeJSON(request, context: context)
        let key = request.headers[.idempotencyKey]
        let outcome: PredictionService.Outcome
        let single: Bool
        switch (body.text, body.texts) {
        case (let text?, nil):
            outcome = try await predictions.predict([text], clientID: user.id, metadata: body.metadata ?? [:], field: "text", idempotencyKey: key)
            single = true
        case (nil, let texts?):
            outcome = try await predictions.predict(texts, clientID: user.id, metadata: body.metadata ?? [:], field: "texts", idempotencyKey: key)
            single = false
        default:
            throw APIError.invalid("text", "send either \"text\" (one utterance) or \"texts\" (a batch)")
        }
        var response: Response
        if single {
            guard let first = outcome.predictions.first else { throw APIError.unavailable("the stored answer for this Idempotency-Key is incomplete") }
            response = try json(PredictionJSON(first))
        } else {
            response = try json(BatchJSON(predictions: outcome.predictions.map(PredictionJSON.init)))
        }
        if outcome.replayed { response.headers[.idempotentReplayed] = "true" }
        return response
    }

    @Sendable func prediction(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.agent)
        guard let id = context.parameters.get("id", as: UUID.self) else { throw APIError.invalid("id", "not a prediction id (UUID)") }
        guard let record = try await store.prediction(id: id) else { throw APIError(.notFound, code: "not_found", "no such prediction", field: "id") }
        struct Full: Encodable {
            let prediction: PredictionJSON
            let text: String
            let feedback: FeedbackJSON?
        }
        return try json(Full(prediction: .init(record), text: record.text, feedback: try await store.feedback(predictionID: id).map(FeedbackJSON.init)))
    }

    // MARK: feedback

    struct FeedbackRequest: Decodable {
        let predictionId: String?
        let verdict: String?
        let intent: String?
        let text: String?
        let note: String?
        let proposeIntent: Bool?
    }

    @Sendable func feedback(_ request: Request, context: AppContext) async throws -> Response {
        let agent = try context.require(.agent)
        let body: FeedbackRequest = try await decodeJSON(request, context: context)
        let key = request.headers[.idempotencyKey]
        let record: FeedbackRecord
        if let raw = body.predictionId {
            guard let id = UUID(uuidString: raw) else { throw APIError.invalid("prediction_id", "not a prediction id (UUID)") }
            guard let verdictName = body.verdict, let verdict = Verdict(rawValue: verdictName), verdict != .submit else {
                throw APIError.invalid("verdict", "verdict must be \"confirm\" or \"correct\"")
            }
            record = try await store.review(predictionID: id, agentID: agent.id, verdict: verdict, intent: body.intent, note: body.note ?? "",
                                            propose: body.proposeIntent ?? false, idempotencyKey: key)
        } else {
            guard let text = body.text else { throw APIError.invalid("prediction_id", "send \"prediction_id\" with a verdict, or \"text\" with its \"intent\"") }
            guard let intent = body.intent else { throw APIError.invalid("intent", "a submitted utterance needs its \"intent\"") }
            record = try await store.submit(text: text, intent: intent, agentID: agent.id, note: body.note ?? "", propose: body.proposeIntent ?? false,
                                            idempotencyKey: key)
        }
        guard !record.replayed else {
            var response = try json(FeedbackJSON(record), status: .ok)
            response.headers[.idempotentReplayed] = "true"
            return response
        }
        metrics.recordFeedback(record.verdict)
        return try json(FeedbackJSON(record), status: .created)
    }

    /// A stored verdict as the API shows it (ids in lower case, like every id the API returns).
    struct FeedbackJSON: Encodable {
        let id: Int64
        let predictionId: String?
        let text: String
        let verdict: String
        let intent: String
        let predictedIntent: String?
        let note: String
        let createdAt: Date
        init(_ f: FeedbackRecord) {
            id = f.id
            predictionId = f.predictionID?.uuidString.lowercased()
            text = f.text
            verdict = f.verdict.rawValue
            intent = f.intent
            predictedIntent = f.predictedIntent
            note = f.note
            createdAt = f.createdAt
        }
    }

    // MARK: intents and datasets

    @Sendable func intents(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.client)
        let all = request.uri.queryParameters["all"] == "true"
        struct List: Encodable { let intents: [IntentRecord] }
        return try json(List(intents: try await store.intents(includeProposed: all)))
    }

    /// POST /v1/import?kind=training|golden, body JSONL or CSV (Content-Type or ?format=).
    @Sendable func importExamples(_ request: Request, context: AppContext) async throws -> Response {
        let admin = try context.require(.admin)
        let kind = try exampleKind(request)
        let format = try Self.datasetFormat(request)
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let data = Data(body.readableBytesView)
        let examples: [LabelledExample]
        do { examples = try DatasetFile.parse(data, format: format, name: "body") } catch {
            throw APIError(.badRequest, code: "invalid", error.description, field: error.line.map { "line \($0)" } ?? "body")
        }
        return try json(try await store.importExamples(examples, kind: kind, actor: admin.id), status: .created)
    }

    @Sendable func exportExamples(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.admin)
        let kind = try exampleKind(request)
        let format = try Self.datasetFormat(request)
        let examples = try await store.examples(kind: kind)
        let text = DatasetFile.serialize(examples, format: format)
        let type = format == .csv ? "text/csv; charset=utf-8" : "application/jsonl; charset=utf-8"
        return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func exampleKind(_ request: Request) throws -> ExampleKind {
        let raw = request.uri.queryParameters["kind"].map(String.init) ?? "training"
        guard let kind = ExampleKind(rawValue: raw) else { throw APIError.invalid("kind", "kind must be training or golden") }
        return kind
    }

    static func datasetFormat(_ request: Request) throws -> DatasetFile.Format {
        if let raw = request.uri.queryParameters["format"] {
            guard let f = DatasetFile.Format(rawValue: String(raw)) else { throw APIError.invalid("format", "format must be jsonl or csv") }
            return f
        }
        return (request.headers[.contentType] ?? "").lowercased().contains("csv") ? .csv : .jsonl
    }
}

/// Decodes a JSON body with snake_case keys; invalid UTF-8 or malformed JSON is a 400 naming the field.
func decodeJSON<T: Decodable>(_ request: Request, context: AppContext, convertKeys: Bool = true) async throws -> T {
    let buffer = try await request.body.collect(upTo: 1 << 20)
    let data = Data(buffer.readableBytesView)
    guard String(validating: data, as: UTF8.self) != nil else { throw APIError.invalid("body", "the body is not valid UTF-8") }
    let decoder = JSONDecoder()
    if convertKeys { decoder.keyDecodingStrategy = .convertFromSnakeCase }  // off for types with snake_case CodingKeys
    do { return try decoder.decode(T.self, from: data) } catch let error as DecodingError {
        throw APIError.invalid(snakeCase(error.fieldName), "the body is not valid: \(error.summary)")
    }
}

func snakeCase(_ s: String) -> String {
    var out = ""
    for c in s {
        if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
    }
    return out
}

/// A JSON response with snake_case keys and ISO-8601 dates.
func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.dateEncodingStrategy = .iso8601
    let data = try encoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

extension HTTPField.Name {
    /// A client's key for a request it may retry (POST /v1/predict, POST /v1/feedback).
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// Set on an answer that replays an earlier request with the same key.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
