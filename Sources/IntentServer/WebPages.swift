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
    /// With `flash`, the message a redirect left in the flash cookie is shown (and the cookie cleared).
    /// For an admin's page: nil when the caller is a logged-in admin; otherwise the answer to
    /// give instead (the login page, or a 403 page for another role).
    func refuseUnlessAdmin(_ context: AppContext) throws -> Response? {
        guard context.session != nil, let user = context.user else { return .redirect("/login") }
        guard user.role == .admin else { return try render("error", title: "Admins only", context: context, status: .forbidden) }
        return nil
    }

    func render(_ template: String, title: String, context: AppContext, values: [String: Any] = [:], status: HTTPResponse.Status = .ok,
                flash request: Request? = nil) throws -> Response {
        var object = values
        let flash = request.flatMap { Flash.message(in: $0) }
        if let flash { object["error"] = flash }
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
        var response = Response(status: status, headers: Self.securityHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
        if flash != nil { response.setCookie(Flash.clear) }
        return response
    }
}

/// A one-time message for the next page, carried by a short-lived HttpOnly cookie set by the
/// server (a query-string message could be crafted by anyone and shown as ours).
enum Flash {
    static let cookie = "il_flash"
    static let maxLength = 300

    static func set(_ message: String) -> Cookie {
        let value = Data(String(message.prefix(maxLength)).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return Cookie(name: cookie, value: value, maxAge: 60, path: "/", httpOnly: true, sameSite: .strict)
    }

    static let clear = Cookie(name: cookie, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict)

    static func message(in request: Request) -> String? {
        guard var raw = request.cookies[cookie]?.value, !raw.isEmpty, raw.utf8.count <= 2 * maxLength * 4 else { return nil }
        raw = raw.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        raw += String(repeating: "=", count: (4 - raw.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: raw), let text = String(data: data, encoding: .utf8), !text.isEmpty else { return nil }
        return String(text.prefix(maxLength))
    }
}

extension Response {
    /// 303 See Other: after a form POST, and to the login page.
    static func redirect(_ location: String, cookies: [Cookie] = []) -> Response {
        var response = Response(status: .seeOther, headers: [.location: location])
        for c in cookies { response.setCookie(c) }
        return response
    }

    /// Back to the form's page, which shows `error` (carried by the flash cookie).
    static func redirect(to path: String, error: String) -> Response {
        redirect(path, cookies: [Flash.set(error)])
    }
}
