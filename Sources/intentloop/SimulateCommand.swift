import ArgumentParser
import AsyncHTTPClient
import Foundation
import IntentData
import IntentStore
import Simulation

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a labelled dataset through the running loop week by week, with simulated agents, and measure production accuracy.",
        discussion: """
            Bootstraps an adapter from K examples per intent; each week sends T utterances of the rest of --data to POST /v1/predict,
            has simulated agents review R predictions (the review queue's order, or at random) through the feedback API, runs the
            gate on the shadow candidate, trains a fresh candidate, and evaluates production and the candidate on --test (never sent,
            never trained on). --embedded (the default) starts a private server and database; --server URL drives a running one
            (its gate policy is changed for the run and restored afterwards).
            """)

    @Option(help: "Labelled data: bootstrap examples, golden set and the traffic pool (JSONL, CSV, or FILE#split).") var data: String?
    @Option(help: "Labelled test set (never sent as traffic, never trained on).") var test: String?
    @Option(help: "Labelled examples per intent for the first adapter.") var bootstrapPerIntent = 5
    @Option(help: "Examples per intent held out of the traffic as the golden regression set.") var goldenPerIntent = 10
    @Option(help: "Simulated weeks (each trains one candidate).") var weeks = 6
    @Option(help: "Utterances the clients send per week.") var trafficPerWeek = 1500
    @Option(help: "Predictions the agents review per week.") var reviewsPerWeek = 300
    @Option(help: "uncertainty (the review queue's order) or random.") var selection = "uncertainty"
    @Option(help: "Probability that an agent gives a wrong intent.") var agentNoise = 0.0
    @Option(help: "FROM:TO — agents label every FROM utterance as TO.") var poison: String?
    @Option(help: "Seed of the split, the traffic order and the agents.") var seed: UInt64 = 1
    @Option(help: "Keep this many intents (chosen with the seed): a shorter run.") var intents: Int?
    @Option(help: "Training epochs of each job (--embedded only; the first adapter trains 5).") var epochs = 5
    @Option(help: "superiority or non_inferiority: the gate's mode for the run.") var gateMode = "superiority"
    @Option(help: "λ of the jobs' DPO term (--embedded only; default: the training job's recipe).") var dpoWeight: Float?
    @Option(help: "Drive a running server at this URL instead of a private one.") var server: String?
    @Option(help: "With --server: an admin API token (acts as client, agent and admin).") var token: String?
    @Flag(help: "Start a private server and database for the run (the default).") var embedded = false
    @Option(help: "With --embedded: keep the server's data directory here (default: a temporary one, removed).") var workDir: String?
    @Option(help: "Write the results as JSON here.") var json: String?
    @Option(help: "Write the SVG chart here (default: beside --json).") var chart: String?
    @Option(help: "NAME=FILE: draw this earlier run's --json results into --chart instead of running (repeatable).") var plot: [String] = []
    @Option(help: "The chart's title (with --plot).") var title: String?

    func validate() throws {
        if !plot.isEmpty {
            guard chart != nil else { throw ValidationError("--plot needs --chart FILE") }
            for p in plot where !p.contains("=") { throw ValidationError("--plot must be NAME=FILE") }
            return
        }
        guard data != nil, test != nil else { throw ValidationError("--data and --test are required") }
        guard (1...1000).contains(bootstrapPerIntent) else { throw ValidationError("--bootstrap-per-intent must be 1–1000") }
        guard (0...1000).contains(goldenPerIntent) else { throw ValidationError("--golden-per-intent must be 0–1000") }
        guard (1...104).contains(weeks) else { throw ValidationError("--weeks must be 1–104") }
        guard (1...1_000_000).contains(trafficPerWeek) else { throw ValidationError("--traffic-per-week must be 1–1000000") }
        guard (0...100_000).contains(reviewsPerWeek) else { throw ValidationError("--reviews-per-week must be 0–100000") }
        guard ReviewSelection(rawValue: selection) != nil else { throw ValidationError("--selection must be uncertainty or random") }
        guard agentNoise.isFinite, (0...1).contains(agentNoise) else { throw ValidationError("--agent-noise must be between 0 and 1") }
        if let poison, Poison(poison) == nil { throw ValidationError("--poison must be FROM:TO, two different intent names") }
        if let intents, !(2...100_000).contains(intents) { throw ValidationError("--intents must be at least 2") }
        guard (1...100).contains(epochs) else { throw ValidationError("--epochs must be 1–100") }
        if let dpoWeight, !(dpoWeight.isFinite && (0...10).contains(dpoWeight)) { throw ValidationError("--dpo-weight must be 0–10") }
        guard ["superiority", "non_inferiority"].contains(gateMode) else { throw ValidationError("--gate-mode must be superiority or non_inferiority") }
        if server != nil && embedded { throw ValidationError("--server and --embedded exclude each other") }
        if let server {
            guard let url = URL(string: server), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--server must be an http(s) URL")
            }
            guard token != nil else { throw ValidationError("--server needs --token (an admin API token)") }
        }
    }

    func run() async throws {
        if !plot.isEmpty { return try drawPlots() }
        guard let data, let test else { throw CLIFailure(message: "--data and --test are required") }
        var all: [LabelledExample], testAll: [LabelledExample]
        do {
            all = try DatasetFile.load(data)
            testAll = try DatasetFile.load(test)
        } catch { throw CLIFailure(message: error.description) }
        // The server accepts intent names of letters, digits and _.:/- (BANKING77 has
        // "reverted_card_payment?"): other characters become "_", in both files alike.
        let renamed = Set((all + testAll).map(\.intent).filter { !InputRules.validIntentName($0) })
        if !renamed.isEmpty {
            func clean(_ e: LabelledExample) -> LabelledExample {
                guard renamed.contains(e.intent) else { return e }
                let name = String(String.UnicodeScalarView(e.intent.unicodeScalars.prefix(100).map { InputRules.intentNameCharacter($0) ? $0 : "_" }))
                return LabelledExample(text: e.text, intent: name)
            }
            all = all.map(clean)
            testAll = testAll.map(clean)
            FileHandle.standardError.write(Data("[simulate] intent names the server would refuse, with _ for each other character: \(renamed.sorted().joined(separator: ", "))\n".utf8))
        }

        let split = SimulationSplit.make(all, bootstrapPerIntent: bootstrapPerIntent, goldenPerIntent: goldenPerIntent, intentLimit: intents, seed: seed)
        let testSet = split.restricted(testAll)
        guard split.intents.count >= 2 else { throw CLIFailure(message: "--data has \(split.intents.count) intent(s); at least 2 are needed") }
        guard !testSet.isEmpty else { throw CLIFailure(message: "--test has no examples of the simulated intents") }
        guard !split.pool.isEmpty else { throw CLIFailure(message: "nothing is left of --data for traffic after the bootstrap and golden examples") }
        let poison = self.poison.flatMap(Poison.init)
        if let poison {
            for name in [poison.from, poison.to] where !split.intents.contains(name) {
                throw CLIFailure(message: "--poison: \(name) is not one of the simulated intents")
            }
        }
        var settings = SimulationSettings()
        settings.data = data
        settings.test = test
        settings.intents = split.intents.count
        settings.bootstrapPerIntent = bootstrapPerIntent
        settings.goldenPerIntent = goldenPerIntent
        settings.weeks = weeks
        settings.trafficPerWeek = trafficPerWeek
        settings.reviewsPerWeek = reviewsPerWeek
        settings.selection = ReviewSelection(rawValue: selection)!
        settings.agentNoise = agentNoise
        settings.poison = poison?.description
        settings.seed = seed
        settings.epochs = epochs
        settings.gateMode = gateMode
        settings.dpoWeight = dpoWeight.map(Double.init)
        settings.server = server ?? "embedded"
        var report = SimulationReport(settings: settings)
        report.testSize = testSet.count
        let log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("[simulate] \($0)\n".utf8)) }
        log("\(split.intents.count) intents: \(split.bootstrap.count) bootstrap, \(split.golden.count) golden, \(split.pool.count) in the traffic pool, \(testSet.count) test")

        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let result: SimulationReport
        do {
            if let server {
                let api = LoopClient(base: server.hasSuffix("/") ? String(server.dropLast()) : server, client: client, clientToken: token!,
                                     agentToken: token!, adminToken: token!)
                try await api.importExamples(split.bootstrap, golden: false)
                if !split.golden.isEmpty { try await api.importExamples(split.golden, golden: true) }
                result = try await drive(api, split: split, test: testSet, report: report, poison: poison, log: log)
            } else {
                let embeddedServer = try await EmbeddedSimulationServer.start(split: split, epochs: epochs, dpoWeight: dpoWeight, workDir: workDir, client: client, log: log)
                do {
                    let api = LoopClient(base: embeddedServer.baseURL, client: client, clientToken: embeddedServer.clientToken,
                                         agentToken: embeddedServer.agentToken, adminToken: embeddedServer.adminToken)
                    result = try await drive(api, split: split, test: testSet, report: report, poison: poison, log: log)
                    embeddedServer.stop()
                } catch {
                    embeddedServer.stop()
                    throw error
                }
            }
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            if let failure = error as? LoopClient.HTTPFailure { throw CLIFailure(message: failure.description, code: 1) }
            throw error
        }
        print(result.table())
        print(String(format: "final production accuracy %.2f %% (bootstrap %.2f %%) with %.1f labels per intent; %.0f s", result.finalAccuracy * 100,
                     result.bootstrap.accuracy * 100, result.labelsPerIntent, result.wallSeconds))
        try write(result)
    }

    func drive(_ api: LoopClient, split: SimulationSplit, test: [LabelledExample], report: SimulationReport, poison: Poison?,
               log: @escaping @Sendable (String) -> Void) async throws -> SimulationReport {
        // The run's gate policy: every prediction shadowed, the shadow phase measured in
        // predictions (simulated weeks last minutes), the mode asked for.
        let saved = try await api.policy()
        try await api.setPolicy(["mode": gateMode, "shadow_sample_rate": 1.0, "minimum_shadow_hours": 0.0,
                                 "minimum_shadow_predictions": max(1, min(500, trafficPerWeek / 2))])
        var driver = SimulationDriver(api: api, split: split, test: test, report: report,
                                      agent: SimulatedAgent(intents: split.intents, noise: agentNoise, poison: poison), log: log)
        do {
            let result = try await driver.run()
            do { try await api.storeSimulation(result) } catch { log("warning: the server did not keep the report: \(error)") }
            if server != nil { try? await api.setPolicy(saved) }
            return result
        } catch {
            if server != nil { try? await api.setPolicy(saved) }
            throw error
        }
    }

    /// Several runs' curves in one chart (the benchmark's comparisons).
    func drawPlots() throws {
        var runs: [(name: String, report: SimulationReport)] = []
        for p in plot {
            let name = String(p.prefix { $0 != "=" }), file = String(p.drop { $0 != "=" }.dropFirst())
            do {
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                runs.append((name, try decoder.decode(SimulationReport.self, from: Data(contentsOf: URL(fileURLWithPath: file)))))
            } catch { throw CLIFailure(message: "--plot \(name): cannot read \(file): \(error)") }
        }
        let svg = SimulationChart.svg(runs, title: title ?? "Production accuracy by week", candidates: false)
        do { try Data(svg.utf8).write(to: URL(fileURLWithPath: chart!)) } catch { throw CLIFailure(message: "cannot write \(chart!): \(error.localizedDescription)", code: 1) }
    }

    func write(_ report: SimulationReport) throws {
        let svg = SimulationChart.svg([(name: report.settings.selection.rawValue, report: report)],
                                      title: "Production accuracy by week (\(report.settings.intents) intents, \(report.settings.selection.rawValue) selection)")
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            do { try encoder.encode(report).write(to: URL(fileURLWithPath: json)) } catch { throw CLIFailure(message: "cannot write \(json): \(error.localizedDescription)", code: 1) }
        }
        let chartPath = chart ?? json.map { ($0.hasSuffix(".json") ? String($0.dropLast(5)) : $0) + ".svg" }
        if let chartPath {
            do { try Data(svg.utf8).write(to: URL(fileURLWithPath: chartPath)) } catch { throw CLIFailure(message: "cannot write \(chartPath): \(error.localizedDescription)", code: 1) }
        }
    }
}
