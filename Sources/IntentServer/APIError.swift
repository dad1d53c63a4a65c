import HTTPTypes
import Logging
import PostgresNIO
import Foundation
import Hummingbird
import IntentStore

/// An error answered as JSON: {"error": {"code": …, "message": …, "field": …}}. Messages are
/// written for the caller; internal errors never carry their description to the client.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let field: String?
    /// Seconds the client should wait before trying again (sent as `Retry-After`; 429 and 503).
    public let retryAfter: Int?

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, field: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
    }

    /// Seconds a client is told to wait while the database is unreachable.
    static let unavailableRetrySeconds = 2
    static func unavailable(_ message: String = StoreError.unavailable.message) -> APIError {
        APIError(.serviceUnavailable, code: "unavailable", message, retryAfter: unavailableRetrySeconds)
    }

    static func invalid(_ field: String, _ message: String) -> APIError { APIError(.badRequest, code: "invalid", message, field: field) }
    static let unauthenticated = APIError(.unauthorized, code: "unauthenticated", "log in or send Authorization: Bearer <token>")
    static let forbidden = APIError(.forbidden, code: "forbidden", "your role may not do this")

    init(_ error: StoreError) {
        switch error.code {
        case .notFound: self.init(.notFound, code: "not_found", error.message, field: error.field)
        case .conflict: self.init(.conflict, code: "conflict", error.message, field: error.field)
        case .invalid: self.init(.badRequest, code: "invalid", error.message, field: error.field)
        case .unavailable: self = .unavailable(error.message)
        case .idempotencyMismatch: self.init(.unprocessableContent, code: "idempotency_mismatch", error.message, field: error.field)
        default: self.init(.internalServerError, code: "internal", "internal error", field: nil)
        }
    }

    struct Body: Encodable {
        struct Inner: Encodable {
            let code: String
            let message: String
            let field: String?
        }
        let error: Inner
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(Body(error: .init(code: code, message: message, field: field)))
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Maps what a handler throws to an APIError: store validation errors keep their field,
/// anything unexpected becomes a 500 whose details go to the log only.
struct ErrorMappingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as StoreError {
            if ![.invalid, .notFound, .conflict, .unavailable, .idempotencyMismatch].contains(error.code) {
                context.logger.error("store failure", metadata: ["error": "\(error.message)"])
            }
            throw APIError(error)
        } catch let error as any HTTPResponseError {
            throw error
        } catch let error as PSQLError where error.isUnavailability {
            throw APIError.unavailable()
        } catch let error as PSQLError where ["22", "23"].contains(error.serverInfo?[.sqlState]?.prefix(2) ?? "") {
            // Data exceptions and integrity violations are caused by input: validation should have
            // caught it first (logged so that it gets a rule of its own), but it is never a 500.
            context.logger.warning("database refused input", metadata: ["error.sqlstate": "\(error.serverInfo?[.sqlState] ?? "")"])
            throw APIError(.badRequest, code: "invalid", "the database refused this input", field: "body")
        } catch is DeadlineExceeded {
            throw APIError.unavailable()
        } catch where String(reflecting: type(of: error)).hasSuffix("HTTPParserError") {
            // A malformed body (bad chunk size, …) found while the handler read it: the client's fault.
            throw APIError(.badRequest, code: "invalid", "the request body is not valid HTTP: \(error)", field: "body")
        } catch let error as DecodingError {
            throw APIError.invalid(error.fieldName, "the body is not valid: \(error.summary)")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            throw APIError(.internalServerError, code: "internal", "internal error")
        }
    }
}

extension DecodingError {
    /// The JSON field the problem is about (dotted path), or "body".
    var fieldName: String {
        let path: [any CodingKey]
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        case .keyNotFound(let key, let c): path = c.codingPath + [key]
        @unknown default: path = []
        }
        let name = path.map { $0.intValue.map { "\($0)" } ?? $0.stringValue }.joined(separator: ".")
        return name.isEmpty ? "body" : name
    }

    var summary: String {
        switch self {
        case .keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case .typeMismatch(let type, _): "wrong type, expected \(type)"
        case .valueNotFound(let type, _): "missing value, expected \(type)"
        case .dataCorrupted: "malformed JSON or invalid UTF-8"
        @unknown default: "malformed"
        }
    }
}
