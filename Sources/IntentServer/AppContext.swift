import Foundation
import Hummingbird
import IntentStore

/// Per-request context: who is calling (API token or session cookie) and their session.
public struct AppContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var user: UserRecord?
    public var session: SessionRecord?

    public init(source: Source) {
        coreContext = .init(source: source)
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

/// Resolves the caller: `Authorization: Bearer <API token>` or the session cookie. Never
/// refuses by itself; routes state the role they need.
struct AuthMiddleware: RouterMiddleware {
    static let sessionCookie = "il_session"
    let store: Store
    let tokens = APITokenCache()

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let user = try await tokens.user(token: token, lookup: store.user(apiToken:)) else {
                throw APIError(.unauthorized, code: "unauthenticated", "unknown or revoked API token")
            }
            context.user = user
        } else if let cookie = request.cookies[Self.sessionCookie]?.value, let session = try await store.session(token: cookie) {
            context.user = session.user
            context.session = session
        }
        return try await next(request, context)
    }
}
