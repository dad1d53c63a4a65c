import Foundation
import Hummingbird

/// A browser gets an HTML page with a way back, not the API's JSON error: a page that does not
/// exist, a method the path does not take, a form too large, a refused request, the database
/// away (with `Retry-After`). Only outside `/v1` and `/static`, and only for requests that
/// accept `text/html` (every browser navigation does); API clients keep their JSON.
struct BrowserErrorPages: RouterMiddleware {
    typealias Context = AppContext
    let pages: WebPages

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            guard error.status.code >= 400, Self.wantsHTML(request) else { throw error }
            let (title, fallback) = Self.words(error.status, method: request.method.rawValue)
            var message = fallback
            if let api = error as? APIError, api.status.code < 500 || api.code == "unavailable" { message = api.message.prefix(1).uppercased() + api.message.dropFirst() + "." }
            var response = try pages.render("error", title: title, context: context, values: ["message": message], status: error.status)
            if let api = error as? APIError, let seconds = api.retryAfter { response.headers[.retryAfter] = "\(seconds)" }
            return response
        }
    }

    static func words(_ status: HTTPResponse.Status, method: String) -> (String, String) {
        switch status.code {
        case 404: return ("Page not found", "There is no page at this address.")
        case 405: return ("Not possible here", "This page cannot be used with \(method).")
        case 413: return ("Too large", "What was sent is larger than this page accepts.")
        case 401, 403: return ("Not allowed", "Your account may not do this. Log in again, or ask an admin.")
        case 503: return ("Unavailable for a moment", "The service cannot reach its database; try again in a few seconds.")
        case 400..<500: return ("Not possible", "This request could not be handled.")
        default: return ("Something went wrong", "The server could not answer this request; try again.")
        }
    }

    static func wantsHTML(_ request: Request) -> Bool {
        let path = request.uri.path
        guard !path.hasPrefix("/v1/"), path != "/v1", !path.hasPrefix("/static/") else { return false }
        return request.headers[.accept]?.contains("text/html") ?? false
    }
}
