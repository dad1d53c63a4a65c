import PostgresNIO

/// Where the database is, kept as plain values so that both the pool (`PostgresClient`) and
/// the availability probe's own connection (`PostgresConnection`) can be configured from it:
/// their configuration types differ and cannot be converted into each other.
public struct DatabaseEndpoint: Sendable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    /// TLS when the server offers it (`sslmode` other than `disable`).
    public var preferTLS: Bool
    /// Server-side limit on each statement (sent as the `statement_timeout` startup parameter),
    /// so that work a request abandoned does not go on, and commit, long after its 503.
    public var statementTimeout: Duration?

    public init(host: String, port: Int, username: String, password: String?, database: String?, preferTLS: Bool = false,
                statementTimeout: Duration? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.preferTLS = preferTLS
        self.statementTimeout = statementTimeout
    }

    public var clientConfiguration: PostgresClient.Configuration {
        var c = PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database,
                                             tls: preferTLS ? .prefer(.makeClientConfiguration()) : .disable)
        if let statementTimeout {
            let ms = statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000
            c.options.additionalStartupParameters = [("statement_timeout", "\(ms)")]
        }
        return c
    }

    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database,
                                         tls: preferTLS ? .prefer(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable)
    }
}

extension DatabaseEndpoint {
    /// Connects once (no pool) and says, in one line an operator can act on, why the database
    /// cannot be used: the host refuses or does not answer within `limit`, the credentials are
    /// wrong, the database does not exist. A pool would instead retry for a minute and then
    /// report its circuit breaker.
    public func check(limit: Duration = .seconds(10), logger: Logger) async throws(StoreError) {
        let place = "\(host):\(port)\(database.map { "/\($0)" } ?? "")"
        do {
            let configuration = try connectionConfiguration()
            try await race(limit: limit) {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 2, logger: logger)
                try? await connection.close()
            }
        } catch is DeadlineExceeded {
            throw StoreError(.unavailable, "the database at \(place) did not answer within \(limit)")
        } catch let error as PSQLError {
            switch error.serverInfo?[.sqlState] {
            case "3D000"?: throw StoreError(.invalid, "the database \(database ?? "") does not exist on \(host):\(port)", field: "database-url")
            case "28P01"?, "28000"?: throw StoreError(.invalid, "PostgreSQL at \(host):\(port) refused the user name or password", field: "database-url")
            case let state?: throw StoreError(.unavailable, "PostgreSQL at \(place) refused the connection (SQLSTATE \(state))")
            case nil: throw StoreError(.unavailable, "cannot connect to PostgreSQL at \(host):\(port) (\(error.code))")
            }
        } catch {
            throw StoreError(.unavailable, "cannot connect to PostgreSQL at \(host):\(port): \(error)")
        }
    }
}
