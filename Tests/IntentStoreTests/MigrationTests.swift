import Foundation
import IntentStore
import IntentTestSupport
import Logging
import PostgresNIO
import Testing

@Suite struct MigrationTests {
    @Test func applyOnceAndRecordChecksums() async throws {
        try await TestDatabase.withStore(migrate: false) { store in
            let all = try Migration.load(from: ResourceDirectory.migrations!)
            let first = try await store.migrate()
            #expect(first == all.map(\.version))
            let second = try await store.migrate()
            #expect(second.isEmpty)
            let recorded = try await store.client.withConnection { try await Migrator.applied($0, logger: store.logger) }
            #expect(recorded == Dictionary(uniqueKeysWithValues: all.map { ($0.version, $0.checksum) }))
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        try await TestDatabase.withStore(migrate: false) { store in
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 { group.addTask { try await store.migrate() } }
                var all: [Int] = []
                for try await a in group { all += a }
                return all
            }
            #expect(applied.sorted() == (try Migration.load(from: ResourceDirectory.migrations!)).map(\.version))
        }
    }

    @Test func changedAppliedMigrationIsRefused() async throws {
        try await TestDatabase.withStore { store in
            try await store.client.query("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
            await #expect { try await store.migrate() } throws: { ($0 as? StoreError)?.code == .migrationChanged }
        }
    }

    @Test func migrationFromANewerBuildIsRefused() async throws {
        try await TestDatabase.withStore { store in
            try await store.client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future', 'x')")
            await #expect { try await store.migrate() } throws: { ($0 as? StoreError)?.code == .migrationUnknown }
        }
    }

    @Test func failingMigrationIsRolledBack() async throws {
        try await TestDatabase.withStore(migrate: false) { store in
            let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mig-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            try "CREATE TABLE a (x int);".write(to: dir.appendingPathComponent("0001_a.sql"), atomically: true, encoding: .utf8)
            try "CREATE TABLE b (x int); SELECT no_such_function();".write(to: dir.appendingPathComponent("0002_b.sql"), atomically: true, encoding: .utf8)
            await #expect { try await store.migrate(directory: dir) } throws: { ($0 as? StoreError)?.code == .migrationFailed }
            let rows = try await store.client.query("SELECT count(*) FROM pg_tables WHERE tablename IN ('a', 'b')")
            var tables = 0
            for try await n in rows.decode(Int64.self) { tables = Int(n) }
            #expect(tables == 1, "0001 stays applied, 0002 is rolled back whole")
        }
    }

    @Test func badFileNamesAreReported() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "SELECT 1;".write(to: dir.appendingPathComponent("create_things.sql"), atomically: true, encoding: .utf8)
        #expect { try Migration.load(from: dir) } throws: { ($0 as? StoreError)?.code == .migrationFiles }
    }
}

@Suite struct EmbeddedPostgresTests {
    @Test func secondStartReusesTheRunningCluster() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("intentloop-embedded-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let logger = Logger(label: "test")
        let first = try EmbeddedPostgres.start(dataDirectory: dir, logger: logger)
        defer { first.stop() }
        #expect(first.startedHere)
        let second = try EmbeddedPostgres.start(dataDirectory: dir, logger: logger)
        #expect(!second.startedHere)
        #expect(second.port == first.port)
        #expect(second.password == first.password)
        let secret = try String(contentsOf: dir.appendingPathComponent("postgres.secret"), encoding: .utf8)
        let mode = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("postgres.secret").path)[.posixPermissions] as? Int
        #expect(secret == first.password && mode == 0o600)
    }
}

@Suite struct SQLScriptTests {
    @Test func splitsAtTopLevelSemicolonsOnly() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'it''s; fine');
            /* block; /* nested; */ still comment */
            CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
            SELECT "odd;name" FROM a WHERE x = $1;;
            -- trailing comment only
            """
        #expect(SQLScript.statements(sql) == [
            "-- a comment; with a semicolon\nCREATE TABLE a (x text DEFAULT 'it''s; fine')",
            "/* block; /* nested; */ still comment */\nCREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
            "SELECT \"odd;name\" FROM a WHERE x = $1",
        ])
    }
}
