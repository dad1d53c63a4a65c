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
    /// Creates a user; a taken username is a conflict.
    @discardableResult
    public func createUser(username: String, role: Role, passwordHash: String?) async throws -> UserRecord {
        guard username.range(of: "^[A-Za-z0-9_.@-]{1,64}$", options: .regularExpression) != nil else {
            throw StoreError(.invalid, "username must be 1–64 letters, digits or _.@-", field: "username")
        }
        do {
            let rows = try await client.query(
                "INSERT INTO users (username, role, password_hash) VALUES (\(username), \(role.rawValue), \(passwordHash)) RETURNING id", logger: logger)
            for try await id in rows.decode(Int64.self) { return UserRecord(id: id, username: username, role: role, passwordHash: passwordHash) }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StoreError(.conflict, "user '\(username)' already exists", field: "username")
        }
        throw StoreError(.invalid, "user not created")
    }

    /// Sets a user's password hash (and role), creating the user when missing.
    public func upsertUser(username: String, role: Role, passwordHash: String?) async throws -> UserRecord {
        let rows = try await client.query("""
            INSERT INTO users (username, role, password_hash) VALUES (\(username), \(role.rawValue), \(passwordHash))
            ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash RETURNING id
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return UserRecord(id: id, username: username, role: role, passwordHash: passwordHash) }
        throw StoreError(.invalid, "user not saved")
    }

    public func user(named username: String) async throws -> UserRecord? {
        let rows = try await client.query(
            "SELECT id, username, role, password_hash FROM users WHERE username = \(username) AND disabled_at IS NULL", logger: logger)
        for try await (id, name, role, hash) in rows.decode((Int64, String, String, String?).self) {
            return UserRecord(id: id, username: name, role: Role(rawValue: role) ?? .client, passwordHash: hash)
        }
        return nil
    }

    /// Starts a session; returns the cookie value (kept by the browser, stored here only hashed).
    public func createSession(userID: Int64, lifetime: TimeInterval = 12 * 3600) async throws -> (token: String, csrf: String) {
        let token = randomToken(), csrf = randomToken()
        let expires = Date().addingTimeInterval(lifetime)
        try await client.query("""
            INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) VALUES (\(secretHash(token)), \(userID), \(csrf), \(expires))
            """, logger: logger)
        return (token, csrf)
    }

    public func session(token: String) async throws -> SessionRecord? {
        let rows = try await client.query("""
            SELECT u.id, u.username, u.role, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE s.token_hash = \(secretHash(token)) AND s.expires_at > now() AND u.disabled_at IS NULL
            """, logger: logger)
        for try await (id, name, role, csrf) in rows.decode((Int64, String, String, String).self) {
            return SessionRecord(user: UserRecord(id: id, username: name, role: Role(rawValue: role) ?? .client, passwordHash: nil), csrfToken: csrf)
        }
        return nil
    }

    public func deleteSession(token: String) async throws {
        try await client.query("DELETE FROM sessions WHERE token_hash = \(secretHash(token))", logger: logger)
    }

    /// Issues an API token for a user; returns it once (only its hash is stored).
    public func createAPIToken(userID: Int64, name: String) async throws -> String {
        let token = "il_" + randomToken()
        try await client.query("INSERT INTO api_tokens (user_id, name, token_hash) VALUES (\(userID), \(name), \(secretHash(token)))", logger: logger)
        return token
    }

    /// Revokes a user's API tokens (those named `name`, or all); returns how many were revoked.
    @discardableResult
    public func revokeAPITokens(userID: Int64, name: String?) async throws -> Int {
        let rows = try await client.query("""
            UPDATE api_tokens SET revoked_at = now()
            WHERE user_id = \(userID) AND revoked_at IS NULL AND (\(name)::text IS NULL OR name = \(name))
            RETURNING id
            """, logger: logger)
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }

    public func user(apiToken token: String) async throws -> UserRecord? {
        let rows = try await client.query("""
            SELECT u.id, u.username, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = \(secretHash(token)) AND t.revoked_at IS NULL AND u.disabled_at IS NULL
            """, logger: logger)
        for try await (id, name, role) in rows.decode((Int64, String, String).self) {
            return UserRecord(id: id, username: name, role: Role(rawValue: role) ?? .client, passwordHash: nil)
        }
        return nil
    }
}
