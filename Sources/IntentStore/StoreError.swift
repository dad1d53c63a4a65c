/// A store failure with a stable code and a message that is safe to log and to show an operator
/// (no passwords, no connection strings with secrets).
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case migrationChanged, migrationUnknown, migrationFailed, migrationFiles
        case postgresMissing, postgresFailed
        case notFound, conflict, invalid
        /// The database cannot be reached now (or did not answer in time): try again later.
        case unavailable
        /// An idempotency key was reused for a different request.
        case idempotencyMismatch
    }
    public let code: Code
    public let message: String
    /// For `invalid`/`conflict`/`notFound`: the request field the problem is about.
    public let field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { message }

    public static let unavailable = StoreError(.unavailable, "the database is unreachable; try again shortly")
}
