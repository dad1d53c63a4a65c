import ArgumentParser
import Foundation
import IntentServer
import LoopCore
import Training

/// How the embedded (serve) or stand-alone (worker) job worker trains.
struct WorkerOptions: ParsableArguments {
    @Option(help: "Threads a training job uses (run at lower OS priority). Default: serve half the cores, worker all of them.")
    var trainingThreads: Int?
    @Option(help: "Seconds a job's lease lasts without a heartbeat before another worker re-queues it.") var leaseSeconds = 60
    @Option(help: "Seconds between a running job's heartbeats (progress, lease, cancellation).") var heartbeatSeconds = 10
    @Option(help: "Training epochs of a job (default: the recipe's).") var epochs: Int?
    @Option(help: "λ, weight of the DPO term on corrections in a job (0: corrections train as labelled examples only; default: the job's recipe).")
    var dpoWeight: Float?

    func validate() throws {
        if let trainingThreads, !(1...256).contains(trainingThreads) { throw ValidationError("--training-threads must be 1–256") }
        guard (5...86_400).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be 5–86400") }
        guard heartbeatSeconds >= 1, heartbeatSeconds <= leaseSeconds / 2 else {
            throw ValidationError("--heartbeat-seconds must be at least 1 and at most half of --lease-seconds")
        }
        if let epochs, !(1...100).contains(epochs) { throw ValidationError("--epochs must be 1–100") }
        if let dpoWeight, !(dpoWeight.isFinite && (0...10).contains(dpoWeight)) { throw ValidationError("--dpo-weight must be 0–10") }
    }

    func settings(defaultThreads: Int) -> WorkerSettings {
        var s = WorkerSettings()
        s.lease = .seconds(leaseSeconds)
        s.heartbeat = .seconds(heartbeatSeconds)
        s.training.threads = trainingThreads ?? defaultThreads
        if let epochs { s.training.epochs = epochs }
        if let dpoWeight { s.training.dpoWeight = dpoWeight }
        return s
    }
}

/// When the embedded scheduler queues training.
struct ScheduleOptions: ParsableArguments {
    @Option(help: "Cron expression (minute hour day month weekday) for scheduled training.") var schedule = CronSchedule.defaultExpression
    @Option(help: "Time zone of --schedule (an IANA name such as Europe/Paris).") var scheduleZone = "UTC"
    @Option(help: "New feedback items needed since the last training for a scheduled slot to train (else it is skipped, with the reason).")
    var minNewFeedback = 20

    func validate() throws {
        guard TimeZone(identifier: scheduleZone) != nil else { throw ValidationError("--schedule-zone: unknown time zone '\(scheduleZone)'") }
        do { _ = try CronSchedule(schedule) } catch { throw ValidationError("--schedule: \(error.description)") }
        guard (0...10_000_000).contains(minNewFeedback) else { throw ValidationError("--min-new-feedback must be 0–10000000") }
    }

    func settings() throws -> RetrainingScheduler.Settings {
        var s = RetrainingScheduler.Settings(cron: try CronSchedule(schedule, timeZone: TimeZone(identifier: scheduleZone)!))
        s.minimumNewFeedback = minNewFeedback
        return s
    }
}
