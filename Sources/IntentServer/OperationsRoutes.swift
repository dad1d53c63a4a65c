import Prometheus
import PostgresNIO
import Foundation
import Hummingbird
import IntentStore

/// Liveness, readiness, Prometheus metrics and the OpenAPI document.
struct OperationsRoutes {
    let store: Store
    let predictor: Predictor
    let metrics: ServerMetrics
    let openAPI: URL?

    func add(to router: Router<AppContext>) {
        router.get("healthz") { _, _ in Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        router.get("readyz", use: ready)
        router.get("metrics") { _, _ in
            metrics.queueDepth.set(Double(predictor.queueDepth))
            metrics.setAdapter(predictor.current.version, role: .production)
            await metrics.refreshReviewBacklog { try await store.reviewBacklog() }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
        router.get("openapi.yaml") { _, _ in
            guard let openAPI, let data = FileManager.default.contents(atPath: openAPI.path) else {
                throw APIError(.notFound, code: "not_found", "openapi.yaml is not installed")
            }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    /// Ready when the database answers (within `readinessTimeout`) and a model is loaded; answers
    /// within about a second whatever the database does.
    @Sendable func ready(_ request: Request, context: AppContext) async throws -> Response {
        struct Status: Encodable {
            let status: String
            let database: String
            let adapterVersion: String
        }
        let ok: Bool
        if let monitor = store.monitor {
            // Down: say so at once. Up: a fresh probe, but never more than 0.8 s of it.
            ok = monitor.isUp ? ((try? await race(limit: .milliseconds(800)) { await monitor.probe() }) ?? false) : false
        } else {
            ok = (try? await race(limit: .milliseconds(800)) { [store] in try await store.client.query("SELECT 1", logger: store.logger) }) != nil
        }
        let database = ok ? "ok" : "unreachable"
        var response = try json(Status(status: ok ? "ready" : "not_ready", database: database, adapterVersion: predictor.current.version),
                                status: ok ? .ok : .serviceUnavailable)
        if !ok { response.headers[.retryAfter] = "\(APIError.unavailableRetrySeconds)" }
        return response
    }
}

/// Request counts and latency per route template and status code.
struct MetricsMiddleware: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now()
        func record(_ status: Int) {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            metrics.recordRequest(method: request.method.rawValue, route: context.endpointPath ?? "unmatched", status: status, seconds: seconds)
        }
        do {
            let response = try await ServerMetrics.$current.withValue(metrics) { try await next(request, context) }
            record(response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            record(error.status.code)
            throw error
        } catch {
            record(500)
            throw error
        }
    }
}
