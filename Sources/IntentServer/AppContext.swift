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

    /// The caller, who must have at least `role`; 401 when anonymous, 403 when the role is short.
    func require(_ role: Role) throws -> UserRecord {
        guard let user else { throw APIError.unauthenticated }
        guard user.role >= role else { throw APIError.forbidden }
        return user
    }
}

/// Resolves the caller: `Authorization: Bearer <API token>`, or on the web pages the session
/// cookie. Never refuses by itself; routes state the role they need.
///
/// The JSON API (`/v1/*`) ignores the session cookie: a browser sends cookies with requests that
/// other pages make it send, and a same-site page could POST a `text/plain` body that parses as
/// JSON. Only a bearer token, which no page can make a browser attach, authenticates the API;
/// the pages, whose forms carry the session's CSRF token, are for cookies.
struct AuthMiddleware: RouterMiddleware {
    static let sessionCookie = "il_session"
    let store: Store
    let tokens: APITokenCache

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let user = try await tokens.user(token: token, lookup: store.user(apiToken:)) else {
                throw APIError(.unauthorized, code: "unauthenticated", "unknown or revoked API token")
            }
            context.user = user
        } else if !Self.isAPI(request.uri.path), let cookie = request.cookies[Self.sessionCookie]?.value, !cookie.isEmpty,
                  cookie.utf8.count <= 256, let session = try await store.session(token: cookie) {
            context.user = session.user
            context.session = session
        }
        return try await next(request, context)
    }

    static func isAPI(_ path: String) -> Bool { path == "/v1" || path.hasPrefix("/v1/") }
}
