import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import Yams

/// Issue 9, item 9: `/openapi.yaml` is a valid YAML document (it once was not, and no OpenAPI tool
/// could load it), and it describes every route the server has, with the error contract.
@Suite struct OpenAPIDocumentTests {
    /// Every route the application registers (APIRoutes, WebRoutes, OperationsRoutes, JobRoutes, ModelRoutes), by method.
    static let routes: [String: [String]] = [
        "/v1/predict": ["post"], "/v1/feedback": ["post"], "/v1/predictions/{id}": ["get"], "/v1/intents": ["get"],
        "/v1/import": ["post"], "/v1/export": ["get"], "/healthz": ["get"], "/readyz": ["get"], "/metrics": ["get"],
        "/openapi.yaml": ["get"], "/": ["get"], "/login": ["get", "post"], "/logout": ["post"], "/queue": ["get"],
        "/predictions/{id}": ["get"], "/predictions/{id}/feedback": ["post"], "/submit": ["get", "post"], "/history": ["get"],
        "/admin/intents": ["get"], "/admin/intents/decide": ["post"],
        "/v1/jobs": ["get", "post"], "/v1/jobs/{id}": ["get"], "/v1/jobs/{id}/cancel": ["post"], "/v1/models": ["get"],
        "/admin/jobs": ["get"], "/admin/jobs/trigger": ["post"], "/admin/jobs/cancel": ["post"],
        "/v1/models/compare": ["get"], "/v1/models/deployments": ["get"], "/v1/models/rollback": ["post"],
        "/v1/queue": ["get"], "/v1/gate/run": ["post"], "/v1/models/{version}/evaluate": ["post"], "/v1/simulations": ["post"],
        "/v1/models/{version}/promote": ["post"], "/v1/gate/policy": ["get", "put"],
        "/admin/models": ["get"], "/admin/models/rollback": ["post"], "/admin/models/promote": ["post"], "/admin/models/policy": ["post"],
        "/models/compare": ["get"],
        "/review": ["get"], "/queue/confirm": ["post"], "/predictions/{id}/feedback/undo": ["post"],
    ]

    @Test func theServedDocumentIsYAMLAndCoversEveryRoute() async throws {
        try await Fixture.withApp { client, _, _ in
            let response = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(response.status == .ok)
            let document = try #require(try Yams.load(yaml: String(buffer: response.body)) as? [String: Any])
            #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
            let paths = try #require(document["paths"] as? [String: Any])
            for (path, methods) in Self.routes {
                let operations = paths[path] as? [String: Any]
                #expect(operations != nil, "\(path) is documented")
                for method in methods { #expect(operations?[method] != nil, "\(method.uppercased()) \(path) is documented") }
            }
            let predict = try #require((paths["/v1/predict"] as? [String: Any])?["post"] as? [String: Any])
            let responses = try #require(predict["responses"] as? [String: Any])
            for status in ["200", "400", "401", "422", "503"] { #expect(responses[status] != nil, "predict documents \(status)") }
        }
    }
}
