import ArgumentParser
import Foundation
import IntentStore
import LoopCore

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Training jobs: list, show, trigger, wait for, cancel.",
        subcommands: [List.self, Show.self, Trigger.self, Wait.self, Cancel.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The newest jobs first.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "How many (1–1000).") var limit = 50
        @Flag(help: "One JSON document.") var json = false

        func validate() throws { guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1–1000") } }

        func run() async throws {
            let limit = limit
            let jobs = try await database.withStore(logger: quietLogger("intentloop.jobs")) { store, _ in try await store.jobs(limit: limit) }
            if json { return printJSON(["jobs": jobs]) }
            print("id\tstatus\ttrigger\tattempts\tcreated\tphase\tnote")
            for j in jobs {
                print("\(j.id)\t\(j.status.rawValue)\t\(j.trigger)\t\(j.attempts)/\(j.maxAttempts)\t\(iso(j.createdAt))\t\(j.progress?.phase ?? "-")\t\(summary(j))")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One job: status, attempts, lease, progress, result.")
        @Argument var id: Int64
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "One JSON document.") var json = false

        func run() async throws {
            let job = try await JobsCommand.existing(id, database)
            if json { return printJSON(job) }
            print(describe(job))
        }
    }

    struct Trigger: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a training job now (a train job already queued is returned instead of a second one).")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "One JSON document.") var json = false

        func run() async throws {
            let (id, created) = try await database.withStore(logger: quietLogger("intentloop.jobs")) { store, _ in
                try await store.enqueueJob(kind: "train", trigger: "manual", payload: ["requested_from": "cli"])
            }
            if json { return printJSON(["id": "\(id)", "created": "\(created)"]) }
            print(created ? "queued job \(id)" : "job \(id) is already queued")
        }
    }

    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait until a job finishes: exit 0 when it succeeded, 1 when it failed, was cancelled or skipped, 3 on timeout.")
        @Argument var id: Int64
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Seconds to wait at most (1–604800).") var timeout = 3600
        @Flag(help: "One JSON document (the job as it ended).") var json = false

        func validate() throws { guard (1...604_800).contains(timeout) else { throw ValidationError("--timeout must be 1–604800") } }

        func run() async throws {
            let id = id, deadline = ContinuousClock.now + .seconds(timeout), json = json
            let job = try await database.withStore(logger: quietLogger("intentloop.jobs")) { store, _ -> JobRecord in
                var lastPhase = ""
                while true {
                    guard let job = try await store.job(id) else { throw CLIFailure(message: "no job \(id)") }
                    if job.status.isFinished || ContinuousClock.now >= deadline { return job }
                    let phase = job.progress.map { "\($0.phase)\($0.epoch.map { " epoch \($0)/\(job.progress?.epochs ?? 0)" } ?? "")" } ?? job.status.rawValue
                    if phase != lastPhase && !json {
                        FileHandle.standardError.write(Data("job \(id): \(phase)\n".utf8))
                        lastPhase = phase
                    }
                    try await Task.sleep(for: .seconds(1))
                }
            }
            if json { printJSON(job) } else { print(describe(job)) }
            switch job.status {
            case .succeeded: return
            case .queued, .running: throw CLIFailure(message: "job \(id) is still \(job.status.rawValue) after \(timeout) s", code: 3)
            default: throw CLIFailure(message: "job \(id) \(job.status.rawValue): \(job.error ?? "")", code: 1)
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued job, or ask a running one to stop at its next heartbeat.")
        @Argument var id: Int64
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "One JSON document.") var json = false

        func run() async throws {
            let id = id
            let job = try await database.withStore(logger: quietLogger("intentloop.jobs")) { store, _ -> JobRecord in
                do { return try await store.cancelJob(id, actor: nil) } catch let error as StoreError where error.code != .unavailable {
                    throw CLIFailure(message: error.description)
                }
            }
            if json { return printJSON(job) }
            print(job.status == .cancelled ? "cancelled job \(id)" : "asked job \(id) to stop; its worker stops at the next heartbeat")
        }
    }

    static func existing(_ id: Int64, _ database: DatabaseOptions) async throws -> JobRecord {
        try await database.withStore(logger: quietLogger("intentloop.jobs")) { store, _ in
            guard let job = try await store.job(id) else { throw CLIFailure(message: "no job \(id)") }
            return job
        }
    }
}

func summary(_ j: JobRecord) -> String {
    if let version = j.result?["adapter_version"] { return "adapter \(version)" }
    return j.error ?? ""
}

func describe(_ j: JobRecord) -> String {
    var lines = ["job \(j.id) (\(j.kind), \(j.trigger)\(j.slot.map { ", slot \($0)" } ?? "")): \(j.status.rawValue)",
                 "  attempts \(j.attempts) of \(j.maxAttempts)\(j.worker.map { ", worker \($0)" } ?? "")\(j.cancelRequested ? ", cancellation requested" : "")",
                 "  created \(iso(j.createdAt))\(j.startedAt.map { ", started \(iso($0))" } ?? "")\(j.finishedAt.map { ", finished \(iso($0))" } ?? "")"]
    if let p = j.progress {
        var parts = [p.phase]
        if let e = p.epoch, let n = p.epochs { parts.append("epoch \(e)/\(n)") }
        if let s = p.step, let n = p.totalSteps { parts.append("step \(s)/\(n)") }
        if let l = p.loss { parts.append(String(format: "loss %.4f", l)) }
        if let r = p.examplesPerSecond { parts.append(String(format: "%.1f examples/s", r)) }
        if let eta = p.etaSeconds { parts.append(String(format: "ETA %.0f s", eta)) }
        lines.append("  progress: " + parts.joined(separator: ", "))
    }
    if let error = j.error { lines.append("  \(j.status == .skipped ? "skipped" : "note"): \(error)") }
    for (k, v) in (j.result ?? [:]).sorted(by: { $0.key < $1.key }) { lines.append("  \(k): \(v)") }
    return lines.joined(separator: "\n")
}

func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

/// Prints one JSON document (ISO 8601 dates, sorted keys).
func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    encoder.keyEncodingStrategy = .convertToSnakeCase  // like the HTTP API
    guard let data = try? encoder.encode(value) else { return }
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}
