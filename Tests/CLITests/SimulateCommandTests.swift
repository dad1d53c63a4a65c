import Foundation
import Testing

/// `intentloop simulate`, short: 20 CLINC150 intents, 2 weeks, through a private server, its
/// database, worker and gate (about a minute on 2 cores). The full runs are ops/bench/simulate.
extension CLITests {
    static let clinc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/datasets/clinc150/data_full.json").path

    @Test func aShortSimulationRunsTheWholeLoopThroughTheAPI() throws {
        try #require(FileManager.default.fileExists(atPath: Self.clinc), "the CLINC150 dataset (../shared/datasets) is missing")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("sim.json").path, work = dir.appendingPathComponent("work").path
        let r = try run(["simulate", "--data", Self.clinc + "#train", "--test", Self.clinc + "#test", "--intents", "20", "--weeks", "2",
                         "--traffic-per-week", "200", "--reviews-per-week", "60", "--golden-per-intent", "5", "--epochs", "3", "--seed", "3",
                         "--json", json, "--work-dir", work])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("bootstrap: 5 per intent"))
        #expect(r.stdout.contains("final production accuracy"))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        #expect(report["test_size"] as? Int == 600)  // 20 intents × 30 test utterances
        let bootstrap = try #require(report["bootstrap"] as? [String: Any])
        #expect((bootstrap["accuracy"] as? Double ?? 0) > 0.7)
        let weeks = try #require(report["weeks"] as? [[String: Any]])
        try #require(weeks.count >= 2)
        #expect(weeks.map { $0["feedback"] as? Int } .prefix(2) == [60, 120])
        for week in weeks.prefix(2) {
            #expect(week["trains"] as? Bool == true)
            #expect((week["candidate_version"] as? String)?.isEmpty == false)
            #expect((week["candidate_accuracy"] as? Double ?? 0) > 0.7)
            #expect((week["production_accuracy"] as? Double ?? 0) > 0.7)
            #expect(week["traffic_accuracy"] != nil)
        }
        // Week 1's candidate was decided on week 2's shadow traffic (or superseded by week 2's).
        #expect(["promote", "reject", "superseded", "approve"].contains(weeks[0]["decision"] as? String ?? ""), "\(weeks[0])")
        let svg = try String(contentsOfFile: dir.appendingPathComponent("sim.svg").path, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("production"))

        // Everything went through the real store: the adapters are there after the server stopped.
        let listed = try run(["models", "list", "--json", "--data-dir", work])
        #expect(listed.status == 0, "\(listed.stderr)")
        let adapters = ((try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["adapters"] as? [[String: Any]]) ?? []
        #expect(adapters.count == 3, "bootstrap + 2 candidates: \(listed.stdout.prefix(300))")

        // Charts of earlier runs, without running.
        let chart = dir.appendingPathComponent("both.svg").path
        let plotted = try run(["simulate", "--plot", "a=\(json)", "--plot", "b=\(json)", "--chart", chart, "--title", "a & b"])
        #expect(plotted.status == 0, "\(plotted.stderr)")
        #expect(try String(contentsOfFile: chart, encoding: .utf8).contains("a &amp; b"))
    }

    @Test func simulateRefusesBadArgumentsInOneLine() throws {
        let data = try temporaryFile("sim.jsonl", (0..<12).map { #"{"text": "t \#($0)", "intent": "\#(["a", "b"][$0 % 2])"}"# }.joined(separator: "\n") + "\n")
        let base = ["simulate", "--data", data, "--test", data, "--bootstrap-per-intent", "2", "--golden-per-intent", "0"]
        expectOneLineError(try run(base + ["--selection", "best"]), containing: "--selection")
        expectOneLineError(try run(base + ["--agent-noise", "1.5"]), containing: "--agent-noise")
        expectOneLineError(try run(base + ["--agent-noise", "nan"]), containing: "--agent-noise")
        expectOneLineError(try run(base + ["--weeks", "-1"]), containing: "--weeks")
        expectOneLineError(try run(base + ["--traffic-per-week", "99999999999"]), containing: "--traffic-per-week")
        expectOneLineError(try run(base + ["--poison", "a:a"]), containing: "--poison")
        expectOneLineError(try run(base + ["--poison", "a:zzz"]), containing: "zzz is not one of the simulated intents")
        expectOneLineError(try run(base + ["--server", "ftp://x", "--token", "t"]), containing: "--server")
        expectOneLineError(try run(base + ["--server", "http://127.0.0.1:9"]), containing: "--token")
        expectOneLineError(try run(base + ["--gate-mode", "lenient"]), containing: "--gate-mode")
        expectOneLineError(try run(["simulate", "--test", data]), containing: "--data and --test")
        expectOneLineError(try run(["simulate", "--plot", "x.json", "--chart", "y.svg"]), containing: "NAME=FILE")
        expectOneLineError(try run(["simulate", "--data", data, "--test", data + ".missing"]), containing: "missing")
    }

    /// SIGTERM to `simulate` while its server trains the first adapter: the server and its database
    /// stop too, and the temporary data directory goes.
    @Test func aStoppedSimulationStopsItsServer() throws {
        try #require(FileManager.default.fileExists(atPath: Self.clinc), "the CLINC150 dataset (../shared/datasets) is missing")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-sim-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let p = try start(["simulate", "--data", Self.clinc + "#train", "--test", Self.clinc + "#test", "--intents", "5", "--weeks", "1",
                           "--traffic-per-week", "20", "--reviews-per-week", "5"], log: log)
        var serverPID: Int32?, directory: String?
        for _ in 0..<240 where serverPID == nil {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("started intentloop serve (pid ") }) {
                serverPID = Int32(line.split(separator: "(pid ").last?.prefix { $0.isNumber } ?? "")
                directory = line.split(separator: "log: ").last.map { URL(fileURLWithPath: String($0)).deletingLastPathComponent().path }
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
        let pid = try #require(serverPID)
        #expect(kill(pid, 0) == 0, "the server runs")
        p.terminate()
        p.waitUntilExit()
        #expect(p.terminationStatus != 0)
        #expect(kill(pid, 0) != 0, "the server stopped with the command")
        #expect(!FileManager.default.fileExists(atPath: try #require(directory)), "the temporary data directory is gone")
    }
}
