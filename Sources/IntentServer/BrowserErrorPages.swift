import Foundation
import Hummingbird

/// A browser that asks for a page that does not exist (or with a method the path does not take)
/// gets an HTML page with a way back, not the API's JSON error. Only outside `/v1` and
/// `/static`, and only for requests that accept `text/html` (every browser navigation does);
/// API clients keep their JSON.
struct BrowserErrorPages: RouterMiddleware {
    typealias Context = AppContext
    let pages: WebPages

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            guard [.notFound, .methodNotAllowed].contains(error.status), Self.wantsHTML(request) else { throw error }
            let notFound = error.status == .notFound
            return try pages.render("error", title: notFound ? "Page not found" : "Not possible here", context: context, values: [
                "message": notFound ? "There is no page at this address." : "This page cannot be used with \(request.method.rawValue).",
            ], status: error.status)
        }
    }

    static func wantsHTML(_ request: Request) -> Bool {
        let path = request.uri.path
        guard !path.hasPrefix("/v1/"), path != "/v1", !path.hasPrefix("/static/") else { return false }
        return request.headers[.accept]?.contains("text/html") ?? false
    }
}
