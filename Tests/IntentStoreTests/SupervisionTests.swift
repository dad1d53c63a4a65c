import Foundation
import IntentStore
import IntentTestSupport
import Logging
import PostgresNIO
import Testing

/// The embedded PostgreSQL is supervised while the server runs, and the test command stops only
/// the clusters it started (issue 9, item 8).
@Suite(.serialized) struct SupervisionTests {
    static var root: URL {
        let base = ProcessInfo.processInfo.environment["INTENTLOOP_TEST_DATA"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSTemporaryDirectory())
        return base.appendingPathComponent("supervision-\(UUID().uuidString.prefix(8))")
    }

    static func answers(_ pg: EmbeddedPostgres) async -> Bool {
        let client = PostgresClient(configuration: pg.configuration(database: "postgres"), backgroundLogger: Logger(label: "test"))
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await client.run(); return false }
            group.addTask { (try? await race(limit: .seconds(5)) { try await client.query("SELECT 1", logger: Logger(label: "test")) }) != nil }
            let answer = await group.next() ?? false
            group.cancelAll()
            return answer
        }
    }

    @Test func aKilledPostmasterIsStartedAgain() async throws {
        let dir = Self.root
        defer { try? FileManager.default.removeItem(at: dir) }
        let pg = try EmbeddedPostgres.start(dataDirectory: dir, logger: Logger(label: "test"))
        let service = EmbeddedPostgresService(postgres: pg, interval: .milliseconds(200), logger: Logger(label: "test"))
        let supervisor = Task { try await service.run() }
        #expect(await Self.answers(pg))
        let pidFile = try String(contentsOf: pg.clusterDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8)
        let pid = try #require(Int32(pidFile.split(separator: "\n")[0]))
        kill(pid, SIGKILL)
        var back = false
        for _ in 0..<100 where !back {  // up to 20 s: the killed postmaster's children must exit first
            try await Task.sleep(for: .milliseconds(200))
            back = pg.isRunning && (try? String(contentsOf: pg.clusterDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8))?
                .split(separator: "\n").first.map(String.init) != "\(pid)"
        }
        #expect(back, "the supervisor started PostgreSQL again")
        #expect(await Self.answers(pg))
        supervisor.cancel()
        _ = await supervisor.result
        #expect(!pg.isRunning, "stopped when the service ends")
    }

    @Test func theTestCommandStopsOnlyItsOwnClusters() async throws {
        let own = Self.root, foreign = Self.root
        defer {
            try? FileManager.default.removeItem(at: own)
            try? FileManager.default.removeItem(at: foreign)
        }
        let mine = try EmbeddedPostgres.start(dataDirectory: own.appendingPathComponent("nested"), logger: Logger(label: "test"))
        // A private data directory (like /root's): started by root, its cluster lives in the
        // shared /var/lib/intentloop/clusters folder, which the old clean-up emptied wholesale.
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let theirs = try EmbeddedPostgres.start(dataDirectory: foreign, logger: Logger(label: "test"))
        defer {
            theirs.stop()
            if !theirs.clusterDirectory.path.hasPrefix(foreign.path) { try? FileManager.default.removeItem(at: theirs.clusterDirectory) }
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ops/lib/stop-own-clusters")
        let process = try Process.run(script, arguments: [own.path])
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(!mine.isRunning)
        #expect(theirs.isRunning)
        #expect(await Self.answers(theirs))
    }
}

/// The pool is replaced after an outage (PostgresNIO's own back-off can reach a minute).
@Suite struct DatabasePoolTests {
    @Test func aReplacedPoolServesQueriesAtOnce() async throws {
        let configuration = try TestDatabase.configuration(database: "postgres")
        let logger = Logger(label: "test")
        let pool = DatabasePool(logger: logger) { PostgresClient(configuration: configuration, backgroundLogger: logger) }
        let store = Store(pool: pool, logger: logger)
        let running = Task { try await pool.run() }
        defer { running.cancel() }
        let first = pool.client
        #expect(try await store.scalarInt("SELECT 1") == 1)
        pool.replace()
        for _ in 0..<500 where pool.generation == 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(pool.generation == 1)
        #expect(pool.client !== first)
        #expect(try await store.scalarInt("SELECT 2") == 2)
        running.cancel()
        _ = await running.result
    }
}

extension Store {
    func scalarInt(_ sql: String) async throws -> Int {
        for try await n in try await query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return n }
        return -1
    }
}
