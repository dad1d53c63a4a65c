import Foundation
import Hummingbird
import IntentData
import IntentStore
import Logging
import LoopCore
import Simulation

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
        v1.post("simulations", use: storeSimulation)
    }

    /// POST /v1/simulations, body an `intentloop simulate --json` report: kept, and drawn on the
    /// models page (the newest run). 201 with its id.
    @Sendable func storeSimulation(_ request: Request, context: AppContext) async throws -> Response {
        let admin = try context.require(.admin)
        let buffer = try await request.body.collect(upTo: 1 << 20)
        let data = Data(buffer.readableBytesView)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let report: SimulationReport
        do { report = try decoder.decode(SimulationReport.self, from: data) } catch let error as DecodingError {
            throw APIError.invalid(error.fieldName, "not a simulation report: \(error.summary)")
        } catch { throw APIError.invalid("body", "not a simulation report (JSON)") }
        guard report.weeks.count <= 1000 else { throw APIError.invalid("weeks", "at most 1000 weeks") }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        // PostgreSQL keeps no NUL in text or jsonb: refuse it here rather than fail the INSERT.
        guard !String(decoding: try encoder.encode(report), as: UTF8.self).contains("\\u0000") else {
            throw APIError.invalid("body", "the report contains a NUL character")
        }
        let id = try await store.storeSimulationRun(summary: Self.summary(report), reportJSON: String(decoding: try encoder.encode(report), as: UTF8.self),
                                                    actor: admin.id)
        struct Created: Encodable { let id: Int64 }
        return try json(Created(id: id), status: .created)
    }

    /// One line: what ran and how it ended.
    static func summary(_ r: SimulationReport) -> String {
        let s = r.settings
        var text = "\(s.intents) intents, K \(s.bootstrapPerIntent), \(r.weeks.filter(\.trains).count) weeks of \(s.trafficPerWeek) utterances and \(s.reviewsPerWeek) reviews (\(s.selection.rawValue))"
        if s.agentNoise > 0 { text += String(format: ", agent noise %.2f", s.agentNoise) }
        if let poison = s.poison { text += ", poison \(poison)" }
        text += String(format: ": production %.2f %% → %.2f %%", r.bootstrap.accuracy * 100, r.finalAccuracy * 100)
        return text
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
