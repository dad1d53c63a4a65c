import ArgumentParser
import NIOCore
import NIOHTTP1
import AsyncHTTPClient
import Foundation
import IntentData
import IntentStore
import Simulation

/// The private deployment `intentloop simulate --embedded` drives: a data directory whose
/// embedded PostgreSQL gets the bootstrap and golden examples and one user per role, then a real
/// `intentloop serve` process on a free port (worker in-process; no scheduler, the simulation
/// triggers each week's job; no gate ticks, the simulation runs the gate through the API at the
/// points of the week where the real one would have decided). Stopping it stops the database too.
struct EmbeddedSimulationServer {
    let process: Process
    let baseURL: String
    let directory: URL
    let temporary: Bool
    let clientToken: String
    let agentToken: String
    let adminToken: String

    static func start(split: SimulationSplit, epochs: Int, dpoWeight: Float?, workDir: String?, client: HTTPClient, log: @escaping @Sendable (String) -> Void) async throws -> EmbeddedSimulationServer {
        let fm = FileManager.default
        let directory = workDir.map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? fm.temporaryDirectory.appendingPathComponent("intentloop-simulate-\(UUID().uuidString.prefix(8))", isDirectory: true)
        if workDir != nil, let contents = try? fm.contentsOfDirectory(atPath: directory.path), !contents.isEmpty {
            throw CLIFailure(message: "--work-dir \(directory.path) is not empty: a simulation starts from an empty deployment")
        }
        try? fm.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            return try await launch(directory: directory, temporary: workDir == nil, split: split, epochs: epochs, dpoWeight: dpoWeight,
                                    client: client, log: log)
        } catch {
            if workDir == nil { try? fm.removeItem(at: directory) }  // nothing was started, or stop() already ran
            throw error
        }
    }

    private static func launch(directory: URL, temporary: Bool, split: SimulationSplit, epochs: Int, dpoWeight: Float?, client: HTTPClient,
                               log: @escaping @Sendable (String) -> Void) async throws -> EmbeddedSimulationServer {
        let fm = FileManager.default
        let database = try DatabaseOptions.parse(["--data-dir", directory.path])
        let bootstrap = split.bootstrap, golden = split.golden
        let tokens = try await database.withStore(logger: quietLogger("intentloop.simulate")) { store, _ -> [String] in
            if try await store.exampleCount(kind: .training) == 0 {
                _ = try await store.importExamples(bootstrap, kind: .training, actor: nil, source: "simulation")
                if !golden.isEmpty { _ = try await store.importExamples(golden, kind: .golden, actor: nil, source: "simulation") }
            }
            var tokens: [String] = []
            for (name, role) in [("sim-client", Role.client), ("sim-agent", .agent), ("sim-admin", .admin)] {
                let user = try await store.upsertUser(username: name, role: role, passwordHash: nil)
                tokens.append(try await store.createAPIToken(userID: user.id, name: "simulation"))
            }
            return tokens
        }
        let port = try EmbeddedPostgres.freePort()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["serve", "--data-dir", directory.path, "--port", "\(port)", "--train-first-adapter", "--no-scheduler", "--no-gate",
                             "--epochs", "\(epochs)", "--threads", "\(cores)", "--training-threads", "\(cores)", "--adapter-poll-seconds", "1"]
        let out = directory.appendingPathComponent("serve.out"), err = directory.appendingPathComponent("serve.log")
        fm.createFile(atPath: out.path, contents: nil)
        fm.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        if let dpoWeight { process.arguments! += ["--dpo-weight", "\(dpoWeight)"] }
        try process.run()
        let server = EmbeddedSimulationServer(process: process, baseURL: "http://127.0.0.1:\(port)", directory: directory, temporary: temporary,
                                              clientToken: tokens[0], agentToken: tokens[1], adminToken: tokens[2])
        StopOnSignal.shared.watch(server)
        log("started intentloop serve (pid \(process.processIdentifier)) on port \(port); training the first adapter; log: \(err.path)")
        // The banner comes once the first adapter is trained and the application built.
        let deadline = Date().addingTimeInterval(3600)
        while Date() < deadline {
            if let text = try? String(contentsOf: out, encoding: .utf8), text.contains("IntentLoop is serving"), await server.healthy(client) { return server }
            guard process.isRunning else {
                let tail = ((try? String(contentsOf: err, encoding: .utf8)) ?? "").split(separator: "\n").suffix(5).joined(separator: "\n")
                server.stop()
                throw CLIFailure(message: "intentloop serve exited with status \(process.terminationStatus) before serving:\n\(tail)", code: 1)
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        server.stop()
        throw CLIFailure(message: "intentloop serve did not start within an hour (log: \(err.path))", code: 1)
    }

    func healthy(_ client: HTTPClient) async -> Bool {
        let request = HTTPClientRequest(url: baseURL + "/healthz")
        return (try? await client.execute(request, timeout: .seconds(5)).status.code) == 200
    }

    /// SIGTERM (the server drains, its worker gives back a running job, PostgreSQL stops), then the
    /// temporary data directory goes.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(90)
            while process.isRunning && Date() < deadline { usleep(100_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        guard temporary else { return }
        // The server stops its PostgreSQL on the way out, but the postmaster may still be removing
        // its files for a moment: retry until the folder is gone.
        let fm = FileManager.default
        for _ in 0..<60 where fm.fileExists(atPath: directory.path) {
            try? fm.removeItem(at: directory)
            if fm.fileExists(atPath: directory.path) { usleep(500_000) }
        }
    }
}

/// A SIGINT or SIGTERM to `simulate` stops its private server first (which stops its PostgreSQL)
/// and removes the temporary data directory; without this the server would outlive the command.
final class StopOnSignal: @unchecked Sendable {
    static let shared = StopOnSignal()
    private var sources: [any DispatchSourceSignal] = []

    func watch(_ server: EmbeddedSimulationServer) {
        let box = UnsafeServerBox(server)
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                box.server.stop()
                exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
    }
}

private struct UnsafeServerBox: @unchecked Sendable {
    let server: EmbeddedSimulationServer
    init(_ server: EmbeddedSimulationServer) { self.server = server }
}
