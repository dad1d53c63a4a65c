import Foundation
import Hummingbird
import IntentData
import IntentStore
import Logging
import LoopCore

/// The loop's controls over HTTP (admin): run the gate now instead of at its next tick, and
/// evaluate any stored adapter on a labelled set. `intentloop simulate` drives the loop with
/// them; an operator uses them to decide without waiting and to check an adapter on fresh data.
struct LoopControlRoutes {
    let store: Store
    let evaluator: AdapterEvaluator?
    let logger: Logger

    func add(to router: Router<AppContext>) {
        let v1 = router.group("v1")
        v1.post("gate/run", use: runGate)
        v1.post("models/:version/evaluate", use: evaluate)
    }

    /// POST /v1/gate/run: one pass of the gate over the candidate and the shadow adapter, now
    /// (under the gate's lock: 409 when another replica is deciding at this moment). Answers the
    /// adapters the gate looks after, as they are afterwards.
    @Sendable func runGate(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.admin)
        let keeper = GateKeeper(store: store, logger: logger)
        guard try await store.whileHoldingGateLock({ try await keeper.decideAll() }) != nil else {
            throw APIError(.conflict, code: "conflict", "another replica is running the gate right now; retry in a moment", retryAfter: 1)
        }
        struct Result: Encodable { let adapters: [AdapterRecord] }
        return try json(Result(adapters: try await store.adapters(statuses: [.production, .shadow, .candidate])))
    }

    /// POST /v1/models/{version}/evaluate?format=jsonl|csv, body a labelled set like /v1/import's:
    /// the adapter's accuracy, macro-F1 and per-intent scores on it. Nothing is stored.
    @Sendable func evaluate(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.admin)
        let version = try ModelRoutes.version(context.parameters.get("version"), field: "version")
        guard let evaluator else {
            throw APIError(.serviceUnavailable, code: "unavailable", "this server serves a fixed model and cannot load stored adapters")
        }
        guard let record = try await store.adapter(version: version) else {
            throw APIError(.notFound, code: "not_found", "no adapter \(version)", field: "version")
        }
        guard record.sha256 != nil || record.path != nil else {
            throw APIError(.conflict, code: "conflict", "adapter \(version) has no stored files (it is \(record.status.rawValue))", field: "version")
        }
        let format = try APIRoutes.datasetFormat(request)
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let examples: [LabelledExample]
        do { examples = try DatasetFile.parse(Data(body.readableBytesView), format: format, name: "body") } catch {
            throw APIError(.badRequest, code: "invalid", error.description, field: error.line.map { "line \($0)" } ?? "body")
        }
        guard !examples.isEmpty else { throw APIError.invalid("body", "no labelled examples to evaluate on") }
        guard examples.count <= AdapterEvaluator.maximumExamples else {
            throw APIError.invalid("body", "at most \(AdapterEvaluator.maximumExamples) examples per evaluation")
        }
        return try json(try await evaluator.evaluate(record, examples: examples))
    }
}
