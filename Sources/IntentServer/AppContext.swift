import Foundation
import Hummingbird
import IntentStore

/// Per-request context: who is calling (API token or session cookie) and their session.
public struct AppContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var user: UserRecord?
    public var session: SessionRecord?
    /// The peer's IP address (nil in router-mode tests), for the login throttle.
    public let remoteAddress: String?

    public init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Dataset imports can be large.
    public var maxUploadSize: Int { 32 << 20 }

    /// The API caller (bearer token only: a session cookie does not count, whatever the path
    /// looked like — `//v1/feedback` reaches the same route), who must have at least `role`;
    /// 401 when anonymous, 403 when the role is short.
    func require(_ role: Role) throws -> UserRecord {
        guard let user, session == nil else { throw APIError.unauthenticated }
        guard user.role >= role else { throw APIError.forbidden }
        return user
    }
}

/// Resolves the caller: `Authorization: Bearer <API token>`, or on the web pages the session
/// cookie. Never refuses by itself; routes state the role they need.
///
/// The JSON API (`/v1/*`, `AppContext.require`) does not accept the session cookie: a browser
/// sends cookies with requests that other pages make it send, and a same-site page could POST a
/// `text/plain` body that parses as JSON. Only a bearer token, which no page can make a browser
/// attach, authenticates the API; the pages, whose forms carry the session's CSRF token, are for
/// cookies. The rule is enforced where the API asks who is calling, not by matching the path.
struct AuthMiddleware: RouterMiddleware {
    static let sessionCookie = "il_session"
    let store: Store
    let tokens: APITokenCache

    /// Health, metrics and the API document need no caller, and must not depend on the
    /// database through a session lookup (a liveness probe that happens to send a cookie).
    static let anonymousPaths: Set<String> = ["/healthz", "/readyz", "/metrics", "/openapi.yaml"]

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        if Self.anonymousPaths.contains(request.uri.path) { return try await next(request, context) }
        var context = context
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let user = try await tokens.user(token: token, lookup: store.user(apiToken:)) else {
                throw APIError(.unauthorized, code: "unauthenticated", "unknown or revoked API token")
            }
            context.user = user
        } else if let cookie = request.cookies[Self.sessionCookie]?.value, !cookie.isEmpty,
                  cookie.utf8.count <= 256, let session = try await store.session(token: cookie) {
            context.user = session.user
            context.session = session
        }
        return try await next(request, context)
    }
}
