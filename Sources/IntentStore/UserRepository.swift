import Crypto
import Foundation
import PostgresNIO

public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    case client, agent, admin
    /// client < agent < admin: an admin may do what an agent may.
    public static func < (a: Role, b: Role) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

public struct UserRecord: Sendable, Equatable {
    public let id: Int64
    public let username: String
    public let role: Role
    public let passwordHash: String?
}

/// A logged-in browser session: its user and the CSRF token every form must carry.
public struct SessionRecord: Sendable {
    public let user: UserRecord
    public let csrfToken: String
}

/// SHA-256 of a secret (session cookie or API token): only this is stored.
func secretHash(_ secret: String) -> Data { Data(SHA256.hash(data: Data(secret.utf8))) }

extension Store {
    /// Creates a user, with its audit row in the same transaction; a taken username is a conflict.
    @discardableResult
    public func createUser(username: String, role: Role, passwordHash: String?, actor: Int64? = nil) async throws -> UserRecord {
        guard InputRules.validUsername(username) else {
            throw StoreError(.invalid, "username must be 1–64 letters, digits or _.@-", field: "username")
        }
        do {
            return try await transaction { c in
                let rows = try await c.query(
                    "INSERT INTO users (username, role, password_hash) VALUES (\(username), \(role.rawValue), \(passwordHash)) RETURNING id",
                    logger: self.logger)
                for try await id in rows.decode(Int64.self) {
                    try await self.audit(actor: actor, action: "user.create", subject: username, details: ["role": role.rawValue], on: c)
                    return UserRecord(id: id, username: username, role: role, passwordHash: passwordHash)
                }
                throw StoreError(.invalid, "user not created")
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StoreError(.conflict, "user '\(username)' already exists", field: "username")
        }
    }

    /// Sets a user's password hash (and role), creating the user when missing.
    public func upsertUser(username: String, role: Role, passwordHash: String?) async throws -> UserRecord {
        let rows = try await self.query("""
            INSERT INTO users (username, role, password_hash) VALUES (\(username), \(role.rawValue), \(passwordHash))
            ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash RETURNING id
            """)
        for try await id in rows.decode(Int64.self) { return UserRecord(id: id, username: username, role: role, passwordHash: passwordHash) }
        throw StoreError(.invalid, "user not saved")
    }

    public func user(named username: String) async throws -> UserRecord? {
        let rows = try await self.query(
            "SELECT id, username, role, password_hash FROM users WHERE username = \(username) AND disabled_at IS NULL")
        for try await (id, name, role, hash) in rows.decode((Int64, String, String, String?).self) {
            return UserRecord(id: id, username: name, role: Role(rawValue: role) ?? .client, passwordHash: hash)
        }
        return nil
    }

    /// Starts a session; returns the cookie value (kept by the browser, stored here only hashed).
    public func createSession(userID: Int64, lifetime: TimeInterval = 12 * 3600) async throws -> (token: String, csrf: String) {
        let token = randomToken(), csrf = randomToken()
        let expires = Date().addingTimeInterval(lifetime)
        try await self.query("""
            INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) VALUES (\(secretHash(token)), \(userID), \(csrf), \(expires))
            """)
        return (token, csrf)
    }

    public func session(token: String) async throws -> SessionRecord? {
        let rows = try await self.query("""
            SELECT u.id, u.username, u.role, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE s.token_hash = \(secretHash(token)) AND s.expires_at > now() AND u.disabled_at IS NULL
            """)
        for try await (id, name, role, csrf) in rows.decode((Int64, String, String, String).self) {
            return SessionRecord(user: UserRecord(id: id, username: name, role: Role(rawValue: role) ?? .client, passwordHash: nil), csrfToken: csrf)
        }
        return nil
    }

    public func deleteSession(token: String) async throws {
        try await self.query("DELETE FROM sessions WHERE token_hash = \(secretHash(token))")
    }

    /// Issues an API token for a user; returns it once (only its hash is stored). Audited in the
    /// same transaction (`token.create`, subject `subject` when given).
    public func createAPIToken(userID: Int64, name: String, subject: String? = nil, actor: Int64? = nil) async throws -> String {
        if let problem = InputRules.textProblem(name, maxScalars: 100) { throw StoreError(.invalid, "token name \(problem)", field: "name") }
        let token = "il_" + randomToken()
        try await transaction { c in
            _ = try await c.query("INSERT INTO api_tokens (user_id, name, token_hash) VALUES (\(userID), \(name), \(secretHash(token)))",
                                  logger: self.logger)
            try await self.audit(actor: actor, action: "token.create", subject: subject ?? "user \(userID)", details: ["name": name], on: c)
        }
        return token
    }

    /// Revokes a user's API tokens (those named `name`, or all); returns how many were revoked.
    /// Running servers are told at once (NOTIFY); audited in the same transaction.
    @discardableResult
    public func revokeAPITokens(userID: Int64, name: String?, subject: String? = nil, actor: Int64? = nil) async throws -> Int {
        try await transaction { c in
            let rows = try await c.query("""
                UPDATE api_tokens SET revoked_at = now()
                WHERE user_id = \(userID) AND revoked_at IS NULL AND (\(name)::text IS NULL OR name = \(name))
                RETURNING id
                """, logger: self.logger)
            var count = 0
            for try await _ in rows { count += 1 }
            if count > 0 { try await self.notifyAuthChange(on: c) }
            try await self.audit(actor: actor, action: "token.revoke", subject: subject ?? "user \(userID)",
                                 details: ["name": name ?? "*", "count": "\(count)"], on: c)
            return count
        }
    }

    public func user(apiToken token: String) async throws -> UserRecord? {
        let rows = try await self.query("""
            SELECT u.id, u.username, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = \(secretHash(token)) AND t.revoked_at IS NULL AND u.disabled_at IS NULL
            """)
        for try await (id, name, role) in rows.decode((Int64, String, String).self) {
            return UserRecord(id: id, username: name, role: Role(rawValue: role) ?? .client, passwordHash: nil)
        }
        return nil
    }
}

/// The channel on which credential changes are announced (`NOTIFY intentloop_auth`): servers
/// drop what they cached about tokens and users when they hear it.
public let authChangesChannel = "intentloop_auth"

extension Store {
    /// Disables (or re-enables) a user: a disabled user's sessions are deleted and neither they nor
    /// their tokens authenticate any more; running servers are told at once (NOTIFY). One
    /// transaction with its audit row. Returns false when there is no such user or nothing changed.
    @discardableResult
    public func setUserDisabled(_ username: String, disabled: Bool, actor: Int64?) async throws -> Bool {
        try await transaction { c in
            let rows = try await c.query("""
                UPDATE users SET disabled_at = CASE WHEN \(disabled) THEN now() ELSE NULL END
                WHERE username = \(username) AND (disabled_at IS NULL) = \(disabled) RETURNING id
                """, logger: self.logger)
            var id: Int64?
            for try await found in rows.decode(Int64.self) { id = found }
            guard let id else { return false }
            if disabled { _ = try await c.query("DELETE FROM sessions WHERE user_id = \(id)", logger: self.logger) }
            try await self.audit(actor: actor, action: disabled ? "user.disable" : "user.enable", subject: username, on: c)
            try await self.notifyAuthChange(on: c)
            return true
        }
    }

    /// Tells running servers that credentials changed (delivered when the transaction commits).
    public func notifyAuthChange(on connection: PostgresConnection) async throws {
        _ = try await connection.query("SELECT pg_notify(\(authChangesChannel), 'changed')", logger: logger)
    }
}
