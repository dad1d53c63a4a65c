import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Two `serve` processes on one database (the second reuses the first's embedded cluster) both
/// switch to a promoted adapter and back on a rollback, within seconds, while a load loop against
/// both sees no failed request.
extension CLITests {
    /// Steady predictions against several replicas from plain threads (a few requests in flight
    /// per replica, a short pause between them); every answer is kept with the adapter version it
    /// carries, every non-2xx and every transport error too.
    final class ReplicaLoad: @unchecked Sendable {
        struct Sample {
            let replica: Int
            let sent: Date
            let received: Date
            let status: Int  // 0: transport error
            let version: String?
            let error: String?
            var ok: Bool { (200..<300).contains(status) && version != nil }
        }

        private final class Box: @unchecked Sendable {
            var data: Data?
            var response: URLResponse?
            var error: (any Error)?
        }

        let urls: [URL]
        let token: String
        let perReplica: Int
        let pause: TimeInterval
        private let session: URLSession
        private let lock = NSLock()
        private var samples: [Sample] = []
        private var stopped = false
        private let group = DispatchGroup()

        init(urls: [URL], token: String, perReplica: Int = 2, pause: TimeInterval = 0.1) {
            self.urls = urls
            self.token = token
            self.perReplica = perReplica
            self.pause = pause
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = 15
            session = URLSession(configuration: configuration)
        }

        func start() {
            for (replica, url) in urls.enumerated() {
                for lane in 0..<perReplica {
                    group.enter()
                    let thread = Thread { [self] in
                        var n = 0
                        while !isStopped {
                            record(send(replica: replica, url: url, text: "where is my parcel, lane \(lane) request \(n)"))
                            n += 1
                            Thread.sleep(forTimeInterval: pause)
                        }
                        group.leave()
                    }
                    thread.name = "load-\(replica)-\(lane)"
                    thread.start()
                }
            }
        }

        func stop() {
            lock.withLock { stopped = true }
            _ = group.wait(timeout: .now() + 30)
            session.invalidateAndCancel()
        }

        var isStopped: Bool { lock.withLock { stopped } }
        var snapshot: [Sample] { lock.withLock { samples } }
        private func record(_ s: Sample) { lock.withLock { samples.append(s) } }

        private func send(replica: Int, url: URL, text: String) -> Sample {
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try? JSONSerialization.data(withJSONObject: ["text": text])
            let box = Box(), done = DispatchSemaphore(value: 0)
            let sent = Date()
            let task = session.dataTask(with: request) { data, response, error in
                box.data = data
                box.response = response
                box.error = error
                done.signal()
            }
            task.resume()
            if done.wait(timeout: .now() + 20) == .timedOut {
                task.cancel()
                return Sample(replica: replica, sent: sent, received: Date(), status: 0, version: nil, error: "no answer within 20 s")
            }
            let received = Date()
            if let error = box.error {
                return Sample(replica: replica, sent: sent, received: received, status: 0, version: nil, error: "\(error)")
            }
            let status = (box.response as? HTTPURLResponse)?.statusCode ?? 0
            let object = box.data.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            let body = box.data.map { String(decoding: $0.prefix(300), as: UTF8.self) } ?? ""
            return Sample(replica: replica, sent: sent, received: received, status: status, version: object?["adapter_version"] as? String,
                          error: (200..<300).contains(status) ? nil : body)
        }
    }

    /// A TCP port nobody listens on now (bound to port 0, read back, released).
    func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return ok ? Int(UInt16(bigEndian: address.sin_port)) : Int.random(in: 20_000...40_000)
    }

    /// Waits until `log` contains `text`; returns the log then (nil after `seconds`).
    func waitForLog(_ log: URL, containing text: String, seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let s = try? String(contentsOf: log, encoding: .utf8), s.contains(text) { return s }
            Thread.sleep(forTimeInterval: 0.25)
        }
        return nil
    }

    /// Waits until `GET /readyz` answers 200 (the banner is printed just before the HTTP server listens).
    func waitUntilReady(_ base: URL, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let done = DispatchSemaphore(value: 0)
            final class Flag: @unchecked Sendable { var ready = false }
            let flag = Flag()
            URLSession.shared.dataTask(with: base.appendingPathComponent("readyz")) { _, response, _ in
                flag.ready = (response as? HTTPURLResponse)?.statusCode == 200
                done.signal()
            }.resume()
            _ = done.wait(timeout: .now() + 5)
            if flag.ready { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }

    /// The embedded cluster a data directory names (`postgres.cluster`) is stopped: no postmaster.pid.
    func clusterIsStopped(_ dir: URL) -> Bool {
        guard let marker = try? String(contentsOf: dir.appendingPathComponent("postgres.cluster"), encoding: .utf8),
              let cluster = marker.split(separator: "\n").first else { return true }
        return !FileManager.default.fileExists(atPath: "\(cluster)/postmaster.pid")
    }

    @Test func twoReplicasSwitchOnPromotionAndRollbackWithoutAFailedRequest() throws {
        let began = Date()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let log1 = dir.appendingPathComponent("serve-1.log"), log2 = dir.appendingPathComponent("serve-2.log")
        var servers: [Process] = []
        defer {
            // The second replica first: the first owns the embedded cluster and stops it on exit.
            for p in servers.reversed() where p.isRunning {
                p.terminate()
                p.waitUntilExit()
            }
            if !clusterIsStopped(dir) { _ = try? run(["migrate", "--data-dir", dir.path]) }  // adopts an orphaned cluster and stops it
            try? FileManager.default.removeItem(at: dir)
        }
        func logs() -> String {
            [log1, log2].map { "--- \($0.lastPathComponent):\n" + ((try? String(contentsOf: $0, encoding: .utf8)) ?? "") }.joined(separator: "\n")
        }

        // Replica 1 imports the demo, creates its users and trains the first adapter; replica 2 reuses its cluster and adapter.
        let port1 = freePort()
        var port2 = freePort()
        while port2 == port1 { port2 = freePort() }
        servers.append(try start(["serve", "--demo", "--port", "\(port1)", "--data-dir", dir.path], log: log1))
        let banner1 = try #require(waitForLog(log1, containing: "IntentLoop is serving", seconds: 240), "no banner from replica 1: \(logs())")
        let token = try #require(banner1.firstMatch(of: /API client token \(demo-client\): (il_\S+)/)?.1).description
        let old = try #require(banner1.firstMatch(of: /IntentLoop is serving (\S+) at/)?.1).description
        // serve's default --precision is int8 (fp32 on CPUs without AVX2); the banner says which runs.
        let inference = PrecisionOptionTests.int8Effective().map { ["\n  inference: \($0)\n"] } ?? ["\n  inference: int8\n", "\n  inference: fp32\n"]
        #expect(inference.contains { banner1.contains($0) }, "\(banner1)")
        servers.append(try start(["serve", "--port", "\(port2)", "--data-dir", dir.path], log: log2))
        let banner2 = try #require(waitForLog(log2, containing: "IntentLoop is serving", seconds: 120), "no banner from replica 2: \(logs())")
        #expect(banner2.contains("reusing the embedded PostgreSQL that is already running"), "\(banner2)")
        #expect(banner2.contains("IntentLoop is serving \(old) at"), "replica 2 serves the first adapter: \(banner2)")
        #expect(!banner2.contains("training the first adapter"), "replica 2 must not retrain: \(banner2)")
        let bases = [port1, port2].map { URL(string: "http://127.0.0.1:\($0)/")! }
        for base in bases { #expect(waitUntilReady(base, seconds: 30), "\(base) not ready: \(logs())") }

        // A second adapter, for real: a training job run by a replica's embedded worker (the gate then moves it on).
        let trigger = try run(["jobs", "trigger", "--json", "--data-dir", dir.path])
        #expect(trigger.status == 0, "\(trigger.stderr)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(trigger.stdout.utf8)) as? [String: String])?["id"])
        let waited = try run(["jobs", "wait", id, "--timeout", "180", "--json", "--data-dir", dir.path])
        #expect(waited.status == 0, "\(waited.stdout) \(waited.stderr) \(logs())")
        let job = (try? JSONSerialization.jsonObject(with: Data(waited.stdout.utf8)) as? [String: Any]) ?? [:]
        let new = try #require((job["result"] as? [String: Any])?["adapter_version"] as? String, "\(waited.stdout)")
        #expect(new != old)
        // Let the gate (in the replicas) decide on the candidate first — shadow or rejected; an admin may promote either.
        var status = "candidate"
        for _ in 0..<60 where status == "candidate" {
            let listed = try run(["models", "list", "--json", "--data-dir", dir.path])
            let adapters = ((try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["adapters"] as? [[String: Any]]) ?? []
            status = adapters.first { $0["version"] as? String == new }?["status"] as? String ?? "?"
            if status == "candidate" { Thread.sleep(forTimeInterval: 0.5) }
        }
        #expect(["shadow", "rejected"].contains(status), "the gate left \(new) in \(status)")

        // Load on both replicas from here to the end.
        let load = ReplicaLoad(urls: bases.map { $0.appendingPathComponent("v1/predict") }, token: token)
        load.start()
        var loadStopped = false
        defer { if !loadStopped { load.stop() } }
        Thread.sleep(forTimeInterval: 2)

        /// Runs `arguments` (a promotion or rollback), then waits until each replica has answered with
        /// `version`; returns when the command started and each replica's first answer with it (seconds after the start).
        func switchAndWait(_ arguments: [String], to version: String) throws -> (since: Date, latency: [Double?]) {
            let since = Date()
            let r = try run(arguments + ["--data-dir", dir.path])
            #expect(r.status == 0, "\(arguments): \(r.stdout) \(r.stderr)")
            let returned = Date().timeIntervalSince(since)
            var latency: [Double?] = [nil, nil]
            let deadline = since.addingTimeInterval(15)
            while latency.contains(where: { $0 == nil }) && Date() < deadline {
                let samples = load.snapshot
                for replica in 0..<2 where latency[replica] == nil {
                    latency[replica] = samples.first { $0.replica == replica && $0.received >= since && $0.version == version }
                        .map { $0.received.timeIntervalSince(since) }
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            print("ReplicaSwitch: \(arguments.prefix(2).joined(separator: " ")) → \(version): command \(String(format: "%.2f", returned)) s, "
                  + "replicas answered with it after \(latency.map { $0.map { String(format: "%.2f s", $0) } ?? "never" })")
            return (since, latency)
        }

        let promoted = try switchAndWait(["models", "promote", new, "--reason", "replica switch test"], to: new)
        Thread.sleep(forTimeInterval: 2)
        let rolledBack = try switchAndWait(["models", "rollback", "--from", new, "--reason", "replica switch test"], to: old)
        Thread.sleep(forTimeInterval: 2)
        load.stop()
        loadStopped = true

        for (what, s) in [("promotion", promoted), ("rollback", rolledBack)] {
            for replica in 0..<2 {
                let latency = s.latency[replica]
                #expect(latency != nil && latency! < 10, "replica \(replica + 1) after the \(what): \(latency.map { "\($0) s" } ?? "never switched")\n\(logs())")
            }
        }
        let samples = load.snapshot
        let failed = samples.filter { !$0.ok }
        #expect(failed.isEmpty, "\(failed.count) of \(samples.count) requests failed, e.g. \(failed.prefix(5).map { "replica \($0.replica + 1): \($0.status) \($0.error ?? "")" })")
        for replica in 0..<2 {
            #expect(samples.filter { $0.replica == replica && $0.ok }.count >= 20, "replica \(replica + 1) answered too few requests")
        }
        // Each phase serves one version: before the promotion the old one; once a replica has answered with
        // the promoted (restored) one, every request it was sent afterwards carries it until the next switch.
        let phases: [(from: Date, until: Date, version: String, first: [Double?])] = [
            (.distantPast, promoted.since, old, [0, 0]),
            (promoted.since, rolledBack.since, new, promoted.latency),
            (rolledBack.since, .distantFuture, old, rolledBack.latency),
        ]
        for phase in phases {
            for replica in 0..<2 {
                guard let first = phase.first[replica] else { continue }
                let switched = phase.from == .distantPast ? Date.distantPast : phase.from.addingTimeInterval(first)
                let wrong = samples.filter { $0.replica == replica && $0.ok && $0.sent > switched && $0.received < phase.until && $0.version != phase.version }
                #expect(wrong.isEmpty, "replica \(replica + 1) answered \(wrong.first?.version ?? "") after serving \(phase.version) (\(wrong.count) times)")
            }
        }

        // The history: the admin's promotion and the rollback, newest first, after the first adapter.
        let history = try run(["models", "deployments", "--json", "--data-dir", dir.path])
        #expect(history.status == 0, "\(history.stderr)")
        let deployments = ((try? JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [String: Any])?["deployments"] as? [[String: Any]]) ?? []
        let rows = deployments.map { "\($0["action"] as? String ?? "?") \($0["adapter_version"] as? String ?? "?") \($0["previous_version"] as? String ?? "-")" }
        #expect(rows == ["rollback \(old) \(new)", "manual_promote \(new) \(old)", "first \(old) -"], "\(history.stdout)")

        // Neither replica logged trouble following the adapters (or anything at error level).
        let problems = logs().split(separator: "\n").filter { line in
            [" error ", " critical "].contains { line.contains($0) } || (line.contains(" warning ") && line.contains("adapter"))
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        for log in [log1, log2] {
            let switches = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").components(separatedBy: "switched to the production adapter").count - 1
            #expect(switches == 2, "\(log.lastPathComponent): \(switches) switches")
        }

        // SIGTERM: replica 2, then replica 1 (which stops the embedded PostgreSQL it started); nothing left running.
        for p in servers.reversed() {
            p.terminate()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "exit status \(p.terminationStatus): \(logs())")
        }
        #expect(clusterIsStopped(dir), "the embedded PostgreSQL is still running: \(logs())")
        print("ReplicaSwitch: \(samples.count) requests, \(failed.count) failed; test took \(String(format: "%.0f", Date().timeIntervalSince(began))) s")
    }
}
