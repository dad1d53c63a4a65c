import Foundation
import Hummingbird
import IntentStore
import Mustache

/// Renders the agent pages from `web/templates/*.mustache`. Mustache's {{name}} escapes HTML,
/// so utterance text can never become markup; every page is sent with a strict CSP.
struct WebPages: Sendable {
    let library: MustacheLibrary

    static func load(from web: URL) async throws -> WebPages {
        WebPages(library: try await MustacheLibrary(directory: web.appendingPathComponent("templates").path))
    }

    static let securityHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .contentSecurityPolicy: "default-src 'self'; style-src 'self'; script-src 'none'; frame-ancestors 'none'; form-action 'self'",
        .init("X-Content-Type-Options")!: "nosniff",
        .init("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]

    /// A page for the logged-in user (or the login page when `context.user` is nil).
    func render(_ template: String, title: String, context: AppContext, values: [String: Any] = [:], status: HTTPResponse.Status = .ok) throws -> Response {
        var object = values
        object["title"] = title
        if let user = context.user {
            object["user"] = true
            object["username"] = user.username
            object["role"] = user.role.rawValue
            object["isAdmin"] = user.role == .admin
            object["csrf"] = context.session?.csrfToken ?? ""
        }
        guard let html = library.render(object, withTemplate: template) else {
            throw APIError(.internalServerError, code: "internal", "template \(template) is missing")
        }
        return Response(status: status, headers: Self.securityHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

extension Response {
    /// 303 See Other: after a form POST, and to the login page.
    static func redirect(_ location: String, cookies: [Cookie] = []) -> Response {
        var response = Response(status: .seeOther, headers: [.location: location])
        for c in cookies { response.setCookie(c) }
        return response
    }

    /// Back to the form's page, which shows `error` (the message travels in the query string).
    static func redirect(to path: String, error: String) -> Response {
        var back = URLComponents()
        back.path = path
        back.queryItems = [URLQueryItem(name: "error", value: error)]
        return redirect(back.string ?? path)
    }
}
