import Foundation
import Hummingbird
import HummingbirdTesting
import IntentData
import IntentModel
import IntentServer
import IntentStore
import IntentTestSupport
import Logging
import Training

/// The real base model with a small adapter trained once per test run (three intents).
enum Fixture {
    static let examples: [LabelledExample] = [
        ("where is my parcel", "track_package"), ("track my order please", "track_package"), ("has my package shipped yet", "track_package"),
        ("when will my delivery arrive", "track_package"), ("cancel my order", "cancel_order"), ("i want to cancel the purchase", "cancel_order"),
        ("please stop my order", "cancel_order"), ("don't send it, cancel", "cancel_order"), ("i forgot my password", "reset_password"),
        ("reset my password", "reset_password"), ("cannot log in, need a new password", "reset_password"), ("password reset link please", "reset_password"),
    ].map { LabelledExample(text: $0.0, intent: $0.1) }

    /// Touched only through `servingModel()`: loading the base model and training take seconds.
    static let model: Result<ServingModel, any Error> = Result {
        let base = try BaseModel.load(ModelCache.defaultBaseModel)
        var options = TrainingOptions()
        options.epochs = 2
        options.threads = 2
        let labels = Set(examples.map(\.intent)).sorted()
        let report = try Trainer(base: base, options: options).train(labels: labels, examples: examples)
        return ServingModel(classifier: try IntentClassifier(base: base, adapter: report.adapter), version: "v-test")
    }

    /// The fixture's model (loaded and trained on first use) fetched off the cooperative pool, where
    /// CPU-heavy work never runs: the server tests beside it are timing-sensitive.
    static func servingModel() async throws -> ServingModel {
        try await offPool { try model.get() }
    }

    /// The real base model, loaded off the cooperative pool.
    static func baseModel() async throws -> BaseModel {
        try await offPool { try BaseModel.load(ModelCache.defaultBaseModel) }
    }

    struct Credentials: Sendable {
        let clientToken: String
        let agentToken: String
        let adminToken: String
        let agentPassword = "agent-password-1"
    }

    /// A fresh database with the fixture's examples, a client, an agent (with a password) and an
    /// admin, and the application over it in HummingbirdTesting's router mode.
    static func withApp(configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in },
                        _ test: @escaping @Sendable (any TestClientProtocol, Store, Credentials) async throws -> Void) async throws {
        let model = try await servingModel()
        try await TestDatabase.withStore { store in
            _ = try await store.importExamples(examples, kind: .training, actor: nil)
            let client = try await store.createUser(username: "client", role: .client, passwordHash: nil)
            let agent = try await store.createUser(username: "agent", role: .agent, passwordHash: try await Passwords.hash("agent-password-1"))
            let admin = try await store.createUser(username: "admin", role: .admin, passwordHash: nil)
            let credentials = Credentials(clientToken: try await store.createAPIToken(userID: client.id, name: "t"),
                                          agentToken: try await store.createAPIToken(userID: agent.id, name: "t"),
                                          adminToken: try await store.createAPIToken(userID: admin.id, name: "t"))
            var config = ServerConfiguration()
            config.port = 0
            config.maxWait = .milliseconds(1)
            configure(&config)
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            let app = try await buildApplication(configuration: config, store: store, model: model, logger: logger)
            try await app.test(.router) { client in try await test(client, store, credentials) }
        }
    }
}

extension TestClientProtocol {
    /// A JSON request with a bearer token.
    func call(_ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil, body: ByteBuffer? = nil,
              contentType: String = "application/json") async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil || body != nil { headers[.contentType] = contentType }
        return try await execute(uri: uri, method: method, headers: headers, body: body ?? json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:] }
    /// The "field" of a JSON error body.
    var errorField: String? { (object["error"] as? [String: Any])?["field"] as? String }
}
