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
        .contentSecurityPolicy: "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        .init("X-Content-Type-Options")!: "nosniff",
        .init("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]

    /// A page for the logged-in user (or the login page when `context.user` is nil).
    /// With `flash`, the message a redirect left in the flash cookie is shown (and the cookie cleared).
    /// For an admin's page: nil when the caller is a logged-in admin; otherwise the answer to
    /// give instead (the login page, or a 403 page for another role).
    func refuseUnlessAdmin(_ context: AppContext, request: Request) throws -> Response? {
        guard context.session != nil, let user = context.user else { return .toLogin(returningTo: request) }
        guard user.role == .admin else { return try render("error", title: "Admins only", context: context, status: .forbidden) }
        return nil
    }

    func render(_ template: String, title: String, context: AppContext, values: [String: Any] = [:], status: HTTPResponse.Status = .ok,
                flash request: Request? = nil) throws -> Response {
        var object = values
        let flash = request.flatMap { Flash.read($0) }
        if let flash { object[flash.isError ? "error" : "notice"] = flash.text }
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
/// server (a query-string message could be crafted by anyone and shown as ours). The first
/// character says whether it is an error ("e") or a notice ("n").
enum Flash {
    static let cookie = "il_flash"
    static let maxLength = 300

    static func set(_ message: String, isError: Bool = true) -> Cookie {
        let value = Data(((isError ? "e" : "n") + String(message.prefix(maxLength))).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return Cookie(name: cookie, value: value, maxAge: 60, path: "/", httpOnly: true, sameSite: .strict)
    }

    static func notice(_ message: String) -> Cookie { set(message, isError: false) }

    static let clear = Cookie(name: cookie, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict)

    static func read(_ request: Request) -> (text: String, isError: Bool)? {
        guard var raw = request.cookies[cookie]?.value, !raw.isEmpty, raw.utf8.count <= 2 * maxLength * 4 else { return nil }
        raw = raw.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        raw += String(repeating: "=", count: (4 - raw.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: raw), let text = String(data: data, encoding: .utf8), let kind = text.first,
              kind == "e" || kind == "n" else { return nil }
        let message = String(text.dropFirst().prefix(maxLength))
        return message.isEmpty ? nil : (message, kind == "e")
    }
}

extension Response {
    /// 303 See Other: after a form POST, and to the login page.
    static func redirect(_ location: String, cookies: [Cookie] = []) -> Response {
        var response = Response(status: .seeOther, headers: [.location: location])
        for c in cookies { response.setCookie(c) }
        return response
    }

    /// The login page, which returns to `request`'s page (path and query) after logging in: deep
    /// links survive an expired session.
    static func toLogin(returningTo request: Request) -> Response {
        toLogin(returningTo: request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""))
    }

    /// The login page, returning to the local page `next` afterwards.
    static func toLogin(returningTo next: String) -> Response {
        // The queue is where a login goes anyway: "/login" stays short for the common case.
        guard let safe = LocalPath.validated(next), safe != "/", safe != "/queue", !safe.hasPrefix("/login") else { return redirect("/login") }
        var c = URLComponents()
        c.path = "/login"
        c.queryItems = [URLQueryItem(name: "next", value: safe)]
        return redirect(c.percentEncodedPath + "?" + (c.percentEncodedQuery ?? ""))
    }

    /// Back to the form's page, which shows `error` (carried by the flash cookie).
    static func redirect(to path: String, error: String) -> Response {
        redirect(path, cookies: [Flash.set(error)])
    }

    /// To `path`, which shows `notice` once (carried by the flash cookie).
    static func redirect(to path: String, notice: String) -> Response {
        redirect(path, cookies: [Flash.notice(notice)])
    }
}

/// A same-site path to send a browser to after a form or a login: it starts with one "/" (not
/// "//", not a scheme, no backslash that a browser reads as "/"), has no control characters and
/// is at most `maxLength` bytes. Anything else is refused, so that no link can redirect away.
enum LocalPath {
    /// Room for a form's typed text (2,000 characters of 4-byte UTF-8, percent-encoded, twice)
    /// within the 80 KB a request head may have.
    static let maxLength = 56 << 10

    static func validated(_ path: String?) -> String? {
        guard let path, path.utf8.count <= maxLength, path.hasPrefix("/"), !path.hasPrefix("//"),
              !path.contains("\\"), !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return nil }
        return path
    }
}

/// How a refused form is shown again (the review and submit forms): the message goes next to
/// the input it is about, or above the form.
enum FormProblem {
    static let expired = "The form had expired. What you typed is kept: check it and send it again."

    /// The store's refusal as (input, message): the error's field when the form has that input
    /// (one of `inputs`), else "form"; an unknown intent says how to propose it.
    static func of(_ error: StoreError, inputs: [String]) -> (field: String, message: String) {
        var message = error.message
        if message.hasPrefix("unknown intent") { message += " — tick “It is a new intent” to propose it" }
        guard let field = error.field, inputs.contains(field) else { return ("form", message) }
        return (field, message)
    }
}
