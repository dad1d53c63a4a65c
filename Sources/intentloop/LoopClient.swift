import NIOCore
import NIOHTTP1
import AsyncHTTPClient
import Foundation
import IntentData
import Simulation

/// The HTTP API `intentloop simulate` drives, as a client: predictions, the review queue,
/// feedback, training jobs, the gate, evaluation and metrics. One token per role, as a real
/// deployment has (the client system, the agents, the admin).
struct LoopClient: Sendable {
    let base: String
    let client: HTTPClient
    let clientToken: String
    let agentToken: String
    let adminToken: String

    struct HTTPFailure: Error, CustomStringConvertible {
        let status: Int
        let path: String
        let body: String
        var description: String { "\(path) answered \(status): \(body.prefix(300))" }
    }

    func request(_ method: HTTPMethod, _ path: String, token: String, json: Any? = nil, body: Data? = nil, contentType: String? = nil,
                 timeout: TimeAmount = .minutes(10)) async throws -> Data {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        } else if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/octet-stream")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(request, timeout: timeout)
        let data = Data((try await response.body.collect(upTo: 64 << 20)).readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw HTTPFailure(status: Int(response.status.code), path: "\(method.rawValue) \(path)", body: String(decoding: data, as: UTF8.self))
        }
        return data
    }

    func object(_ method: HTTPMethod, _ path: String, token: String, json: Any? = nil, body: Data? = nil, contentType: String? = nil) async throws -> [String: Any] {
        let data = try await request(method, path, token: token, json: json, body: body, contentType: contentType)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HTTPFailure(status: 200, path: path, body: "not a JSON object")
        }
        return object
    }

    struct Predicted: Sendable {
        let id: String
        let intent: String
        let confidence: Double
    }

    func predict(_ texts: [String]) async throws -> [Predicted] {
        let answer = try await object(.POST, "/v1/predict", token: clientToken, json: ["texts": texts])
        let rows = answer["predictions"] as? [[String: Any]] ?? []
        guard rows.count == texts.count else { throw HTTPFailure(status: 200, path: "/v1/predict", body: "\(rows.count) predictions for \(texts.count) texts") }
        return rows.map { Predicted(id: $0["id"] as? String ?? "", intent: $0["intent"] as? String ?? "", confidence: ($0["confidence"] as? NSNumber)?.doubleValue ?? 0) }
    }

    /// Prediction ids in the review queue's order.
    func queue(limit: Int, offset: Int) async throws -> [String] {
        let answer = try await object(.GET, "/v1/queue?limit=\(limit)&offset=\(offset)", token: agentToken)
        return (answer["predictions"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    func review(_ predictionID: String, confirm: Bool, intent: String) async throws {
        var body: [String: Any] = ["prediction_id": predictionID, "verdict": confirm ? "confirm" : "correct"]
        if !confirm { body["intent"] = intent }
        _ = try await request(.POST, "/v1/feedback", token: agentToken, json: body)
    }

    func importExamples(_ examples: [LabelledExample], golden: Bool) async throws {
        _ = try await request(.POST, "/v1/import?kind=\(golden ? "golden" : "training")&format=jsonl", token: adminToken,
                              body: Data(DatasetFile.serialize(examples, format: .jsonl).utf8), contentType: "application/jsonl")
    }

    /// Queues a training job and waits for it; the job's JSON when it finished.
    /// Gives up after `limit` (a server with no worker leaves the job queued for ever).
    func train(poll: Duration = .seconds(1), limit: Duration = .seconds(6 * 3600)) async throws -> [String: Any] {
        let created = try await object(.POST, "/v1/jobs", token: adminToken)
        guard let id = (created["job"] as? [String: Any])?["id"] as? Int else { throw HTTPFailure(status: 200, path: "/v1/jobs", body: "no job id") }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let job = try await object(.GET, "/v1/jobs/\(id)", token: adminToken)
            if let status = job["status"] as? String, !["queued", "running"].contains(status) { return job }
            try await Task.sleep(for: poll)
        }
        throw HTTPFailure(status: 0, path: "/v1/jobs/\(id)", body: "the training job did not finish within \(limit) (is a worker running?)")
    }

    /// One pass of the gate now (retried while another replica holds the gate's lock).
    func runGate() async throws {
        for attempt in 0..<60 {
            do {
                _ = try await request(.POST, "/v1/gate/run", token: adminToken)
                return
            } catch let failure as HTTPFailure where failure.status == 409 && attempt < 59 {
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    struct Adapter: Sendable {
        let version: String
        let status: String
        let statusReason: String
        let verdict: String?
        let rule: String?
        let firstReason: String?
        /// Golden-set accuracy change against the adapter it was compared with (the gate's paired figure).
        let goldenChange: Double?
    }

    func adapters() async throws -> [Adapter] {
        let answer = try await object(.GET, "/v1/models", token: adminToken)
        return (answer["adapters"] as? [[String: Any]] ?? []).map { a in
            let report = a["gate_report"] as? [String: Any]
            return Adapter(version: a["version"] as? String ?? "", status: a["status"] as? String ?? "", statusReason: a["status_reason"] as? String ?? "",
                           verdict: report?["verdict"] as? String, rule: report?["rule"] as? String,
                           firstReason: (report?["reasons"] as? [String])?.first,
                           goldenChange: ((((report?["figures"] as? [String: Any])?["golden"] as? [String: Any])?["difference"] as? [String: Any])?["estimate"]
                               as? NSNumber)?.doubleValue)
        }
    }

    func policy() async throws -> [String: Any] { try await object(.GET, "/v1/gate/policy", token: adminToken) }

    func setPolicy(_ changes: [String: Any]) async throws { _ = try await request(.PUT, "/v1/gate/policy", token: adminToken, json: changes) }

    struct Scores: Sendable {
        let accuracy: Double
        let macroF1: Double
        let recall: [String: Double]
    }

    /// Retried while the server answers 429 (another evaluation is running there).
    func evaluate(_ version: String, on examples: Data) async throws -> Scores {
        var answer: [String: Any] = [:]
        for attempt in 0..<120 {
            do {
                answer = try await object(.POST, "/v1/models/\(version)/evaluate?format=jsonl", token: adminToken, body: examples,
                                          contentType: "application/jsonl")
                break
            } catch let failure as HTTPFailure where failure.status == 429 && attempt < 119 {
                try await Task.sleep(for: .seconds(5))
            }
        }
        var recall: [String: Double] = [:]
        for row in answer["per_intent"] as? [[String: Any]] ?? [] {
            if let intent = row["intent"] as? String, let r = (row["recall"] as? NSNumber)?.doubleValue { recall[intent] = r }
        }
        return Scores(accuracy: (answer["accuracy"] as? NSNumber)?.doubleValue ?? 0, macroF1: (answer["macro_f1"] as? NSNumber)?.doubleValue ?? 0,
                      recall: recall)
    }

    /// Keeps the run's report on the server (its models page draws the newest).
    func storeSimulation(_ report: SimulationReport) async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        _ = try await request(.POST, "/v1/simulations", token: adminToken, body: try encoder.encode(report), contentType: "application/json")
    }

    /// The value of one unlabelled Prometheus sample from /metrics (0 when absent).
    func metric(_ name: String) async throws -> Double {
        let text = String(decoding: try await request(.GET, "/metrics", token: adminToken), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }
}
