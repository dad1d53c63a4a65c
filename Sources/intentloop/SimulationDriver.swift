import Foundation
import GateStatistics
import IntentData
import Simulation

/// Runs the weekly loop of `intentloop simulate` against a server (DESIGN.md §2), through its
/// public API only. Each week: the clients send T utterances of the traffic pool (a shadow
/// candidate classifies them too); agents review R predictions — the review queue's first R, or R
/// at random among the unreviewed — answering with the true intent (or a noisy or poisoned one);
/// the gate decides on the shadow candidate with that week's labelled traffic; the scheduled job
/// trains a fresh candidate on everything learned so far, and the gate's offline stage decides
/// whether it shadows next week; production and the new candidate are evaluated on the test set.
/// The last candidate is decided in a final round of traffic and reviews that trains nothing.
struct SimulationDriver {
    let api: LoopClient
    let split: SimulationSplit
    let testJSONL: Data
    var report: SimulationReport
    let agent: SimulatedAgent
    let log: @Sendable (String) -> Void

    private var rng: SplitMix64
    private var truth: [String: String] = [:]
    private var predicted: [String: String] = [:]
    private var unreviewed: [String] = []
    /// Prediction ids of the current week's traffic.
    private var thisWeek: [String] = []
    private var reviewed = 0
    private var corrections = 0
    private var scores: [String: LoopClient.Scores] = [:]
    /// Week (index into report.weeks) of each candidate still waiting for its final decision.
    private var pending: [String: Int] = [:]

    init(api: LoopClient, split: SimulationSplit, test: [LabelledExample], report: SimulationReport, agent: SimulatedAgent,
         log: @escaping @Sendable (String) -> Void) {
        self.api = api
        self.split = split
        self.testJSONL = Data(DatasetFile.serialize(test, format: .jsonl).utf8)
        self.report = report
        self.agent = agent
        self.log = log
        self.rng = SplitMix64(seed: report.settings.seed ^ 0xA6E7)
    }

    mutating func run() async throws -> SimulationReport {
        let started = Date()
        let s = report.settings
        guard let production = try await api.adapters().first(where: { $0.status == "production" }) else {
            throw CLIFailure(message: "the server has no production adapter to start from", code: 1)
        }
        let first = try await evaluate(production.version)
        report.bootstrapVersion = production.version
        report.bootstrap = first
        log("week 0: production \(production.version), test accuracy \(pct(first.accuracy))")
        for week in 1...(s.weeks + 1) {
            let trains = week <= s.weeks
            if !trains && pending.isEmpty { break }
            let weekStart = Date()
            var row = SimulationWeek(week: week)
            row.trains = trains
            try await waitUntilInSync()
            row.trafficAccuracy = try await sendTraffic(week: week)
            try await reviewWeek()
            row.feedback = reviewed
            row.corrections = corrections
            // The final gate on the candidate that shadowed this week's traffic.
            try await api.runGate()
            try await settleDecisions()
            if trains {
                log("week \(week): training on \(reviewed) reviews so far")
                let job = try await api.train()
                let result = job["result"] as? [String: Any]
                if job["status"] as? String == "succeeded", let version = result?["adapter_version"] as? String {
                    try await api.runGate()  // the offline stage: evaluation pool and golden set
                    let figures = try await evaluate(version)
                    row.candidateVersion = version
                    row.candidateAccuracy = figures.accuracy
                    row.candidateMacroF1 = figures.macroF1
                    row.candidatePoisonedRecall = figures.poisonedRecall
                    report.weeks.append(row)
                    pending[version] = report.weeks.count - 1
                    try await settleDecisions()
                    row = report.weeks.removeLast()
                } else {
                    row.decision = "training \(job["status"] as? String ?? "?")"
                    row.reason = job["error"] as? String
                }
            }
            let now = try await api.adapters()
            guard let current = now.first(where: { $0.status == "production" }) else { throw CLIFailure(message: "no production adapter", code: 1) }
            let figures = try await evaluate(current.version)
            row.productionVersion = current.version
            row.productionAccuracy = figures.accuracy
            row.productionMacroF1 = figures.macroF1
            row.productionPoisonedRecall = figures.poisonedRecall
            row.wallSeconds = Date().timeIntervalSince(weekStart)
            report.weeks.append(row)
            log("week \(week): production \(current.version) \(pct(figures.accuracy)); candidate \(row.candidateVersion ?? "—") \(row.candidateAccuracy.map(pct) ?? "—") → \(row.decision ?? "pending") (\(Int(row.wallSeconds)) s)")
        }
        // Whatever is still undecided stays so in the report.
        for (_, index) in pending where report.weeks[index].decision == nil { report.weeks[index].decision = "pending" }
        report.wallSeconds = Date().timeIntervalSince(started)
        return report
    }

    // MARK: steps

    /// Sends the week's traffic in requests of 32 texts; waits after every 256 for a shadow
    /// adapter to classify them too (it runs only while serving is idle), so none is dropped.
    /// Answers production's accuracy on this traffic.
    mutating func sendTraffic(week: Int) async throws -> Double {
        let traffic = split.traffic(week: week, perWeek: report.settings.trafficPerWeek)
        let shadowing = try await api.adapters().contains { $0.status == "shadow" }
        let shadowBase = try await shadowCount()
        var right = 0, sent = 0
        thisWeek = []
        for (c, chunk) in traffic.chunks(of: 32).enumerated() {
            let answers = try await api.predict(chunk.map(\.text))
            for (example, answer) in zip(chunk, answers) {
                truth[answer.id] = example.intent
                predicted[answer.id] = answer.intent
                unreviewed.append(answer.id)
                thisWeek.append(answer.id)
                if answer.intent == example.intent { right += 1 }
            }
            sent += chunk.count
            if shadowing, (c + 1) % 8 == 0 || sent >= traffic.count {
                try await waitForShadow(atLeast: shadowBase + Double(sent))  // the simulation's policy shadows every prediction
            }
        }
        return traffic.isEmpty ? 0 : Double(right) / Double(traffic.count)
    }

    mutating func reviewWeek() async throws {
        let budget = min(report.settings.reviewsPerWeek, report.settings.selection == .random ? thisWeek.count : unreviewed.count)
        var chosen: [String] = []
        switch report.settings.selection {
        case .uncertainty:
            var offset = 0
            while chosen.count < budget {
                let page = try await api.queue(limit: 1000, offset: offset)
                if page.isEmpty { break }
                let seen = Set(chosen)
                chosen += page.filter { truth[$0] != nil && !seen.contains($0) }.prefix(budget - chosen.count)
                offset += page.count
            }
        case .random:
            // Among this week's traffic, as a team reviewing a random sample of each week would: the
            // gate then gets the same week's shadow evidence under both selections (earlier weeks'
            // predictions have no shadow of the current candidate).
            var pool = thisWeek
            rng.shuffle(&pool)
            chosen = Array(pool.prefix(budget))
        }
        for id in chosen {
            guard let intent = truth[id] else { continue }
            let label = agent.label(truth: intent, rng: &rng)
            let confirm = label == predicted[id]
            try await api.review(id, confirm: confirm, intent: label)
            reviewed += 1
            if !confirm { corrections += 1 }
        }
        let done = Set(chosen)
        unreviewed.removeAll { done.contains($0) }
    }

    /// Records the final decision of every candidate that got one.
    mutating func settleDecisions() async throws {
        guard !pending.isEmpty else { return }
        for adapter in try await api.adapters() {
            guard let index = pending[adapter.version] else { continue }
            var decision: String?, reason: String?
            switch adapter.status {
            case "production": (decision, reason) = ("promote", adapter.firstReason ?? adapter.statusReason)
            case "rejected", "archived", "failed":
                let superseded = adapter.statusReason.hasPrefix("superseded")
                (decision, reason) = (superseded ? "superseded" : "reject", adapter.statusReason)
            case "shadow" where adapter.verdict == "approve": (decision, reason) = ("approve", adapter.firstReason)
            default: break
            }
            report.weeks[index].candidateGoldenChange = adapter.goldenChange ?? report.weeks[index].candidateGoldenChange
            if let decision {
                report.weeks[index].decision = decision
                report.weeks[index].reason = reason
                pending[adapter.version] = nil
            } else if adapter.status == "shadow" {
                report.weeks[index].reason = adapter.firstReason ?? adapter.statusReason
            }
        }
    }

    mutating func evaluate(_ version: String) async throws -> TestFigures {
        if scores[version] == nil { scores[version] = try await api.evaluate(version, on: testJSONL) }
        let s = scores[version]!
        return TestFigures(accuracy: s.accuracy, macroF1: s.macroF1, poisonedRecall: agent.poison.flatMap { s.recall[$0.from] })
    }

    // MARK: waiting for the server

    /// Until the server (one replica: the embedded one, or the one --server reaches) serves the
    /// production adapter and runs the shadow adapter the database names.
    func waitUntilInSync() async throws {
        for _ in 0..<600 {
            if try await api.metric("intentloop_adapter_in_sync") == 1, try await api.metric("intentloop_shadow_in_sync") == 1 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIFailure(message: "the server did not load the adapters the database names within 60 s", code: 1)
    }

    func shadowCount() async throws -> Double {
        try await api.metric("intentloop_shadow_predictions_total") + api.metric("intentloop_shadow_dropped_total")
    }

    func waitForShadow(atLeast count: Double) async throws {
        for _ in 0..<1200 {
            if try await shadowCount() >= count { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        log("warning: the shadow adapter fell behind (\(Int(try await shadowCount())) of \(Int(count)))")
    }
}

func pct(_ v: Double) -> String { String(format: "%.2f %%", v * 100) }

extension Array {
    func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
