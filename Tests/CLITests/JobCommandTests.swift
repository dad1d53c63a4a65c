import Foundation
import Testing

/// `worker`, `jobs` and `models` against an embedded cluster: a worker killed with SIGKILL in the
/// middle of training loses its lease, and the job completes on another worker.
extension CLITests {
    /// Starts the binary in the background (stdout and stderr to files).
    func start(_ arguments: [String], log: URL) throws -> Process {
        let p = Process()
        p.executableURL = try #require(Self.binary)
        p.arguments = arguments
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return p
    }

    /// Waits until a worker says it takes jobs: from then on it owns the embedded cluster, and other
    /// commands reuse it instead of racing it to start one (and stopping it when they exit).
    func waitForBanner(_ log: URL) throws {
        for _ in 0..<240 {
            if let text = try? String(contentsOf: log, encoding: .utf8), text.contains("is taking jobs") { return }
            Thread.sleep(forTimeInterval: 0.25)
        }
        Issue.record("no worker banner in \(log.lastPathComponent)")
    }

    func jobJSON(_ id: String, _ dir: URL) throws -> [String: Any] {
        let shown = try run(["jobs", "show", id, "--json", "--data-dir", dir.path])
        return (try? JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    @Test func aKilledWorkersJobIsRequeuedAndCompletesElsewhere() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer {
            _ = try? run(["migrate", "--data-dir", dir.path])  // leaves nothing running: the last command stops the cluster it started
            try? FileManager.default.removeItem(at: dir)
        }
        var lines: [String] = []
        for i in 0..<60 { lines.append(#"{"text": "please help with thing \#(i)", "intent": "\#(["alpha", "beta", "gamma"][i % 3])"}"#) }
        let data = try temporaryFile("train.jsonl", lines.joined(separator: "\n") + "\n")
        #expect(try run(["import", data, "--data-dir", dir.path]).status == 0)

        // Bad input first: one line, exit 2.
        expectOneLineError(try run(["jobs", "show", "abc", "--data-dir", dir.path]), containing: "abc")
        expectOneLineError(try run(["jobs", "wait", "1", "--timeout", "0", "--data-dir", dir.path]), containing: "--timeout must be 1–604800")
        expectOneLineError(try run(["worker", "--lease-seconds", "2", "--data-dir", dir.path]), containing: "--lease-seconds must be 5–86400")
        expectOneLineError(try run(["serve", "--schedule", "61 * * * *", "--data-dir", dir.path]), containing: "minute")
        expectOneLineError(try run(["jobs", "show", "99", "--data-dir", dir.path]), containing: "no job 99")
        expectOneLineError(try run(["models", "export", "nope", "--out", dir.appendingPathComponent("x").path, "--data-dir", dir.path]),
                           containing: "no adapter 'nope'")

        let trigger = try run(["jobs", "trigger", "--json", "--data-dir", dir.path])
        #expect(trigger.status == 0, "\(trigger.stderr)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(trigger.stdout.utf8)) as? [String: String])?["id"])
        let again = try run(["jobs", "trigger", "--data-dir", dir.path])
        #expect(again.stdout == "job \(id) is already queued\n")

        // Worker A trains for a long time; it is killed once training is under way.
        // The real base model: 60 examples × 100 epochs keep worker A busy for a minute.
        let a = try start(["worker", "--data-dir", dir.path, "--lease-seconds", "6", "--heartbeat-seconds", "1", "--epochs", "100"],
                          log: dir.appendingPathComponent("worker-a.log"))
        try waitForBanner(dir.appendingPathComponent("worker-a.log"))
        var phase = ""
        for _ in 0..<240 where phase != "train" {
            Thread.sleep(forTimeInterval: 0.5)
            let job = try jobJSON(id, dir)
            phase = (job["progress"] as? [String: Any])?["phase"] as? String ?? ""
            if job["status"] as? String != "running" && job["status"] as? String != "queued" { break }
        }
        #expect(phase == "train", "worker A never reached training: \(String(decoding: (try? Data(contentsOf: dir.appendingPathComponent("worker-a.log"))) ?? Data(), as: UTF8.self))")
        kill(a.processIdentifier, SIGKILL)
        a.waitUntilExit()
        #expect((try jobJSON(id, dir))["status"] as? String == "running")  // until the lease runs out

        // Worker B re-queues the job when A's lease expires and completes it.
        let b = try start(["worker", "--data-dir", dir.path, "--lease-seconds", "6", "--heartbeat-seconds", "1", "--epochs", "1"],
                          log: dir.appendingPathComponent("worker-b.log"))
        defer { b.terminate(); b.waitUntilExit() }
        // B owns the embedded cluster from here on (A's is orphaned): wait for it before other commands use it.
        try waitForBanner(dir.appendingPathComponent("worker-b.log"))
        let waited = try run(["jobs", "wait", id, "--timeout", "180", "--data-dir", dir.path])
        #expect(waited.status == 0, "\(waited.stdout) \(waited.stderr)")
        let job = try jobJSON(id, dir)
        #expect(job["status"] as? String == "succeeded")
        #expect(job["attempts"] as? Int == 2)
        let version = try #require((job["result"] as? [String: String])?["adapter_version"])
        #expect(version.hasPrefix("j\(id)a2-"))

        // models list shows the candidate and the first attempt's failed row; export verifies and writes the PEFT folder.
        let listed = try run(["models", "list", "--json", "--data-dir", dir.path])
        let adapters = ((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["adapters"] as? [[String: Any]]) ?? []
        #expect(adapters.first { $0["version"] as? String == version }?["status"] as? String == "candidate")
        #expect(adapters.contains { ($0["version"] as? String)?.hasPrefix("j\(id)a1-") == true && $0["status"] as? String == "failed" })
        let out = dir.appendingPathComponent("export")
        let exported = try run(["models", "export", version, "--out", out.path, "--data-dir", dir.path])
        #expect(exported.status == 0, "\(exported.stdout) \(exported.stderr)")
        for name in ["adapter_config.json", "adapter_model.safetensors", "labels.json", "intentloop.json", "README.md", "intentloop_adapter.py"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name)")
        }
        let predicted = try run(["predict", "--adapter", out.path, "please help with thing 3"])
        #expect(predicted.status == 0, "\(predicted.stdout) \(predicted.stderr)")
        let cancelDone = try run(["jobs", "cancel", id, "--data-dir", dir.path])
        #expect(cancelDone.status == 2 && cancelDone.stderr.contains("already succeeded"))
    }
}
