import Foundation
import Testing

/// `migrate`, `import`, `users`, `serve`: bad input exits 2 with one line before touching the
/// database; the happy path runs against a real embedded cluster in a temporary data directory.
extension CLITests {
    func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-cli-\(UUID().uuidString)-\(name)")
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func storeCommandsRefuseBadInput() throws {
        expectOneLineError(try run(["import", "/nonexistent/data.jsonl"]), containing: "missing or unreadable")
        let bad = try temporaryFile("bad.jsonl", "{\"text\": \"hi\", \"intent\": \"greet\"}\nnot json\n")
        expectOneLineError(try run(["import", bad]), containing: ":2: not a JSON object")
        expectOneLineError(try run(["migrate", "--database-url", "mysql://x"]), containing: "--database-url must look like postgres://")
        expectOneLineError(try run(["users", "add", "ann", "--role", "superuser"]), containing: "--role must be client, agent or admin")
        expectOneLineError(try run(["serve", "--port", "0"]), containing: "--port must be 1–65535")
        for hide in ["1.5", "-0.1", "nan"] {
            expectOneLineError(try run(["serve", "--review-hide-above", hide]), containing: "--review-hide-above")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-cli-\(UUID().uuidString)")
        expectOneLineError(try run(["migrate", "--data-dir", dir.path], environment: ["INTENTLOOP_PG_BINDIR": "/nonexistent/bin"]),
                           containing: "does not hold initdb, pg_ctl and postgres")
    }

    @Test func anUnreachableDatabaseIsOneLineAtOnce() throws {
        // Before: PostgresNIO's pool retried for about a minute, then printed its circuit breaker's type.
        let start = Date()
        let r = try run(["users", "token", "ann", "--database-url", "postgres://u:p@127.0.0.1:1/nosuchdb"])
        #expect(Date().timeIntervalSince(start) < 15)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr == "error: cannot connect to PostgreSQL at 127.0.0.1:1 (connectionError)\n", "\(r.stderr)")
    }

    @Test func importUsersAndTokensAgainstAnEmbeddedDatabase() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try temporaryFile("data.csv", "text,intent\nwhere is my parcel,track\n\"cancel it, please\",cancel\n")
        let imported = try run(["import", data, "--data-dir", dir.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout == "imported 2 training examples (0 already present), 2 new intents\n")
        let again = try run(["import", data, "--golden", "--data-dir", dir.path])
        #expect(again.stdout == "imported 2 golden examples (0 already present), 0 new intents\n")
        let short = try run(["users", "add", "ann", "--role", "agent", "--data-dir", dir.path], environment: ["INTENTLOOP_PASSWORD": "short"])
        #expect(short.status == 2 && short.stderr.contains("at least 8 characters"))
        let added = try run(["users", "add", "ann", "--role", "agent", "--data-dir", dir.path], environment: ["INTENTLOOP_PASSWORD": "long-enough-1"])
        #expect(added.status == 0 && added.stdout == "created agent ann\n", "\(added.stderr)")
        let twice = try run(["users", "add", "ann", "--data-dir", dir.path], environment: ["INTENTLOOP_PASSWORD": "long-enough-1"])
        #expect(twice.status == 2 && twice.stderr.contains("already exists"))
        let token = try run(["users", "token", "ann", "--data-dir", dir.path])
        #expect(token.status == 0 && token.stdout.hasPrefix("il_"))
        let revoked = try run(["users", "revoke", "ann", "--data-dir", dir.path])
        #expect(revoked.status == 0 && revoked.stdout == "revoked 1 token of ann\n", "\(revoked.stderr)")
        let disabled = try run(["users", "disable", "ann", "--data-dir", dir.path])
        #expect(disabled.status == 0 && disabled.stdout == "disabled ann\n", "\(disabled.stderr)")
        let again2 = try run(["users", "disable", "ann", "--data-dir", dir.path])
        #expect(again2.status == 2 && again2.stderr.contains("no user 'ann' that is enabled"))
        let noToken = try run(["users", "token", "ann", "--data-dir", dir.path])
        #expect(noToken.status == 2, "a disabled user gets no new token")
        let enabled = try run(["users", "enable", "ann", "--data-dir", dir.path])
        #expect(enabled.status == 0 && enabled.stdout == "enabled ann\n", "\(enabled.stderr)")
        let unknown = try run(["users", "token", "bob", "--data-dir", dir.path])
        #expect(unknown.status == 2 && unknown.stderr.contains("no user 'bob'"))
        let migrated = try run(["migrate", "--data-dir", dir.path])
        #expect(migrated.status == 0 && migrated.stdout == "database is up to date\n")
    }
}
