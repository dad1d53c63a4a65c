import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Load generator for `POST /v1/predict` on loopback (ops/bench/http).
/// Closed loop (default): `--connections` clients each send their next request when the last one
/// is answered: the server's throughput at that concurrency. Open loop (`--rate R`): requests
/// leave at R per second whatever the answers do, spread over `--connections` connections, and
/// latency counts from the moment a request was due (no coordinated omission).
/// Writes the ids of every 2xx prediction to `--ids-out` for the database count check.
struct HTTPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "http", abstract: "Predict-endpoint load test.")
    @Option var url = "http://127.0.0.1:8080/v1/predict"
    @Option var token: String
    @Option(help: "Utterances, one per line; requests cycle through them.") var texts: String
    @Option var connections = 8
    @Option(help: "Open-loop requests per second (0 = closed loop).") var rate: Double = 0
    @Option(help: "Seconds of measurement (after --warmup seconds not measured).") var duration: Double = 20
    @Option var warmup: Double = 3
    @Option(help: "File for the ids of the 2xx predictions of the measured interval.") var idsOut: String?

    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var latencies: [Double] = []
        var ok = 0, failed = 0
        var ids: [String] = []
        func add(_ latency: Double, status: Int, id: String?, measured: Bool) {
            lock.lock()
            defer { lock.unlock() }
            if (200..<300).contains(status) {
                if let id { ids.append(id) }
                if measured {
                    ok += 1
                    latencies.append(latency)
                }
            } else if measured {
                failed += 1
            }
        }
    }

    func run() async throws {
        let lines = try String(contentsOfFile: texts, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw ValidationError("--texts has no lines") }
        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        let results = Results()
        let start = now(), measureFrom = start + warmup, end = measureFrom + duration
        let url = url, token = token, conns = connections
        @Sendable func send(_ i: Int, due: Double) async {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            let body = try! JSONSerialization.data(withJSONObject: ["text": lines[i % lines.count]])
            request.body = .bytes(ByteBuffer(bytes: body))
            var status = 0, id: String?
            do {
                let response = try await client.execute(request, timeout: .seconds(30))
                status = Int(response.status.code)
                let bytes = try await response.body.collect(upTo: 1 << 20)
                if let object = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any] { id = object["id"] as? String }
            } catch {
                status = 0
            }
            let done = now()
            results.add(done - due, status: status, id: id, measured: due >= measureFrom && due < end)
        }
        if rate > 0 {
            let interval = 1 / rate
            await withTaskGroup(of: Void.self) { group in
                var i = 0
                while true {
                    let due = start + Double(i) * interval
                    if due >= end { break }
                    let wait = due - now()
                    if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                    let n = i
                    group.addTask { await send(n, due: due) }
                    i += 1
                }
            }
        } else {
            await withTaskGroup(of: Void.self) { group in
                for c in 0..<conns {
                    group.addTask {
                        var i = c
                        while now() < end {
                            await send(i, due: now())
                            i += conns
                        }
                    }
                }
            }
        }
        try await client.shutdown()
        let sorted = results.latencies.sorted()
        if let idsOut { try results.ids.joined(separator: "\n").write(toFile: idsOut, atomically: true, encoding: .utf8) }
        try printJSON([
            "mode": rate > 0 ? "open" : "closed", "connections": connections, "offered_rate": rate, "seconds": duration,
            "ok": results.ok, "failed": results.failed, "throughput": Double(results.ok) / duration,
            "p50_ms": percentile(sorted, 50) * 1000, "p90_ms": percentile(sorted, 90) * 1000, "p99_ms": percentile(sorted, 99) * 1000,
            "max_ms": (sorted.last ?? .nan) * 1000, "ids_2xx_total": results.ids.count,
        ])
    }
}
