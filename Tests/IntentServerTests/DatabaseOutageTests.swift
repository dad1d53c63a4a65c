import Foundation
@testable import IntentServer
import Hummingbird
import HummingbirdTesting
import IntentStore
import Logging
import PostgresNIO
import Testing

/// A TCP port that accepts connections (the kernel's backlog) and never answers: a database
/// that hangs, the worst case for a pool without an acquire timeout.
final class BlackHole: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = listen(fd, 128)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit { close(fd) }

    var endpoint: DatabaseEndpoint { DatabaseEndpoint(host: "127.0.0.1", port: port, username: "nobody", password: "x", database: "none") }

    var configuration: PostgresClient.Configuration {
        var c = endpoint.clientConfiguration
        c.options.connectTimeout = .seconds(1)
        return c
    }
}

/// Issue 9, item 6: with the database gone, requests get 503 with Retry-After in time, readiness
/// says so within a second, and nothing waits for the pool to give up.
@Suite struct DatabaseOutageTests {
    static var logger: Logger {
        var l = Logger(label: "test")
        l.logLevel = .critical
        return l
    }

    @Test func aHangingDatabaseGives503WithRetryAfterWithinTwoSeconds() async throws {
        let model = try await Fixture.servingModel()
        let hole = try BlackHole()
        let client = PostgresClient(configuration: hole.configuration, backgroundLogger: Self.logger)
        var settings = DatabaseMonitor.Settings()
        settings.queryTimeout = .seconds(1)
        settings.probeTimeout = .milliseconds(500)
        let monitor = DatabaseMonitor(client: client, probeEndpoint: try hole.endpoint.connectionConfiguration(), settings: settings, logger: Self.logger)
        let store = Store(client: client, logger: Self.logger, monitor: monitor)
        var config = ServerConfiguration()
        config.port = 0
        let app = try await buildApplication(configuration: config, store: store, model: model, services: [client], logger: Self.logger)
        try await app.test(.router) { http in
            #expect(try await http.execute(uri: "/healthz", method: .get).status == .ok)
            let clock = ContinuousClock()
            let readyStart = clock.now
            let ready = try await http.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable && ready.text.contains("not_ready"))
            #expect(clock.now - readyStart < .seconds(1))
            for _ in 0..<3 {
                let start = clock.now
                let r = try await http.call(.post, "/v1/predict", token: "il_whatever", json: #"{"text": "where is my parcel"}"#)
                #expect(r.status == .serviceUnavailable)
                #expect(r.headers[.retryAfter] == "2")
                #expect((r.object["error"] as? [String: Any])?["code"] as? String == "unavailable")
                #expect(clock.now - start < .seconds(2))
            }
            #expect(!monitor.isUp, "the probes declared the outage")
            // A page whose session must be looked up is refused at once too, and health needs no database.
            let start = clock.now
            let page = try await http.execute(uri: "/queue", method: .get, headers: [.cookie: "il_session=some-session"])
            #expect(page.status == .serviceUnavailable)
            #expect(clock.now - start < .milliseconds(500), "refused at once while down (a query would wait 1 s)")
            #expect(try await http.execute(uri: "/healthz", method: .get, headers: [.cookie: "il_session=x"]).status == .ok)
        }
    }

    @Test func theWriteBacklogIsBounded() async throws {
        let hole = try BlackHole()
        let client = PostgresClient(configuration: hole.configuration, backgroundLogger: Self.logger)
        var settings = DatabaseMonitor.Settings()
        settings.queryTimeout = .seconds(1)
        let store = Store(client: client, logger: Self.logger, monitor: DatabaseMonitor(client: client, settings: settings, logger: Self.logger))
        let writer = PredictionWriter(store: store, maxPendingRows: 2)
        func request(_ n: Int) -> PredictionRequestRecord {
            PredictionRequestRecord(clientID: nil, predictions: (0..<n).map { i in
                PredictionRecord(id: UUID(), text: "t\(i)", adapterVersion: "v", intent: "x", confidence: 1, margin: 1, topK: [], latencyMs: 0, clientID: nil)
            })
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            let first = Task { try await writer.write(request(2)) }
            for _ in 0..<200 where await writer.pendingRows < 2 { try? await Task.sleep(for: .milliseconds(10)) }
            let clock = ContinuousClock()
            let start = clock.now
            await #expect(throws: StoreError.self) { try await writer.write(request(1)) }
            #expect(clock.now - start < .milliseconds(500), "refused at once, not queued behind the 1 s query")
            let firstResult = await first.result
            #expect((try? firstResult.get()) == nil, "the stuck write failed by the query timeout")
            group.cancelAll()
        }
    }
}
