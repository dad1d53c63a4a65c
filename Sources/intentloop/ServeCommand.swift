import ArgumentParser
import Foundation
import Hummingbird
import IntentKernels
import IntentModel
import IntentServer
import IntentStore
import PostgresNIO
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the intent server: predictions API, agent web pages, health and metrics.",
        discussion: "With no --database-url, runs a private PostgreSQL cluster in --data-dir (initdb on first start, reused afterwards).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @OptionGroup var database: DatabaseOptions
    @Option(name: [.customLong("base-model"), .customLong("model")], help: "Base model directory. Default: the cached all-MiniLM-L6-v2.")
    var baseModel: String?
    @Option(help: "Threads for training the first adapter (default: all cores).") var threads: Int?
    @Option(help: "Inference threads, each with single-threaded BLAS (default: one per core).") var workers: Int?
    @Option(help: "Arithmetic of the served encoder's projections: int8 or fp32 (int8 falls back to fp32 on CPUs without AVX2).")
    var precision: Precision = .defaultServing
    @Option(help: "Most texts per forward pass of the batching predictor.") var maxBatch = 32
    @Option(help: "Milliseconds the first request of a batch waits for more (0: take what is queued; batches grow while the model is busy).") var maxWaitMs = 0
    @Flag(help: "Import the demo dataset, create demo users and train the first adapter when missing.") var demo = false
    @Flag(help: "Train a first adapter from the imported examples when there is no production adapter.") var trainFirstAdapter = false
    @Flag(help: "Mark session cookies Secure (behind a TLS-terminating proxy).") var secureCookies = false
    @Option(help: "Milliseconds a database query (waiting for a connection included) may take before the request is answered 503.")
    var databaseTimeoutMs = 5000
    @Flag(help: "Log every request.") var verbose = false
    @Flag(help: "Do not run training jobs in this process (run `intentloop worker` elsewhere).") var noWorker = false
    @Flag(help: "Do not queue scheduled training from this process.") var noScheduler = false
    @Flag(help: "Do not run the promotion gate in this process (another replica runs it).") var noGate = false
    @Option(help: "Seconds between checks of the production and shadow adapters when no notification arrives (LISTEN/NOTIFY is the fast path).")
    var adapterPollSeconds = 5
    @Option(help: "Leave predictions at least this confident out of the review queue unless an agent asks for them (0–1; 1 shows every prediction).")
    var reviewHideAbove = 0.99
    @OptionGroup(title: "Training jobs") var jobs: WorkerOptions
    @OptionGroup(title: "Schedule") var scheduleOptions: ScheduleOptions

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1–65535") }
        guard maxBatch >= 1 && maxBatch <= 256 else { throw ValidationError("--max-batch must be 1–256") }
        guard maxWaitMs >= 0 && maxWaitMs <= 1000 else { throw ValidationError("--max-wait-ms must be 0–1000") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must be 1–256") }
        guard (100...600_000).contains(databaseTimeoutMs) else { throw ValidationError("--database-timeout-ms must be 100–600000") }
        guard (1...3600).contains(adapterPollSeconds) else { throw ValidationError("--adapter-poll-seconds must be 1–3600") }
        guard reviewHideAbove.isFinite, (0...1).contains(reviewHideAbove) else { throw ValidationError("--review-hide-above must be 0–1") }
    }

    func run() async throws {
        let logger = commandLogger("intentloop.serve", verbose: verbose)
        // Single-threaded BLAS for the whole process: the predictor runs one inference thread per
        // core and training runs data parallel, each thread with its own single-threaded BLAS.
        setBLASThreads(1)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var jobSettings = jobs.settings(defaultThreads: max(1, cores / 2))
        jobSettings.precision = precision.effective  // the gate's offline evidence in the served arithmetic
        let workerSettings = jobSettings, runWorker = !noWorker, runScheduler = !noScheduler
        let scheduleSettings = try scheduleOptions.settings()
        let firstThreads = threads ?? cores
        let base: BaseModel
        do { base = try BaseModel.load(baseModel.map { URL(fileURLWithPath: $0) } ?? ModelCache.defaultBaseModel) } catch {
            throw CLIFailure(message: error.description)
        }
        var serverConfig = ServerConfiguration()
        serverConfig.host = host
        serverConfig.port = port
        serverConfig.maxBatch = maxBatch
        serverConfig.maxWait = .milliseconds(maxWaitMs)
        serverConfig.secureCookies = secureCookies
        serverConfig.reviewConfidentAbove = reviewHideAbove >= 1 ? nil : Float(reviewHideAbove)
        if let workers { serverConfig.workers = workers }
        var following = AdapterFollowing(base: base, cache: Bootstrap.adapterCache(database.dataDirectory), precision: precision.effective)
        if precision != precision.effective { logger.warning("this CPU has no AVX2: serving in fp32") }
        following.pollInterval = .seconds(adapterPollSeconds)
        following.runGate = !noGate
        serverConfig.adapters = following
        let servingPrecision = following.precision
        let dataDirectory = database.dataDirectory, demo = demo, trainFirst = trainFirstAdapter || demo, config = serverConfig
        let (embedded, serverEndpoint, location) = try await database.server(logger: logger)
        var endpoint = serverEndpoint
        // The server bounds each statement a little beyond the request's own limit, so that work a
        // request gave up on (503) is cancelled there too instead of committing later.
        endpoint.statementTimeout = .milliseconds(databaseTimeoutMs + 1000)
        let clientConfiguration = endpoint.clientConfiguration
        let pool = DatabasePool(logger: logger) { PostgresClient(configuration: clientConfiguration, backgroundLogger: logger) }
        let metrics = ServerMetrics()
        var monitorSettings = DatabaseMonitor.Settings()
        monitorSettings.queryTimeout = .milliseconds(databaseTimeoutMs)
        let probeEndpoint: PostgresConnection.Configuration
        do { probeEndpoint = try endpoint.connectionConfiguration() } catch {
            embedded?.stop()
            throw CLIFailure(message: "cannot set up TLS for the database: \(error)")
        }
        let monitor = DatabaseMonitor(pool: pool, probeEndpoint: probeEndpoint, settings: monitorSettings, logger: logger, onChange: { up in
            metrics.setDatabaseUp(up)
            if up { pool.replace() }  // the old pool may be backing off for up to a minute
        })
        let store = Store(pool: pool, logger: logger, monitor: monitor)
        // Start-up as one ServiceGroup, in order: the embedded PostgreSQL (supervised), the pool,
        // then the server — migrations, demo data and the model first, then HTTP. SIGTERM/SIGINT
        // stop them in reverse: HTTP drains, the predictor finishes, the pool closes, PostgreSQL stops.
        let server = StartupService {
            try await migrateAtStart(store, location: location)
            var credentials: DemoCredentials?
            if demo {
                guard let demoDirectory = ResourceDirectory.demo else { throw CLIFailure(message: "the demo dataset (ops/demo) was not found") }
                credentials = try await Bootstrap.demo(store: store, dataDirectory: dataDirectory, demoDirectory: demoDirectory, logger: logger)
            }
            let model: ServingModel
            do {
                model = try await Bootstrap.servingModel(store: store, base: base, dataDirectory: dataDirectory, trainIfMissing: trainFirst,
                                                         threads: firstThreads, precision: servingPrecision, logger: logger)
            } catch let error as StoreError { throw CLIFailure(message: error.description) }
            // The loop's services run beside the HTTP server, started once the database is migrated.
            var loop: [any Service] = []
            if runWorker {
                loop.append(JobWorker(store: store, base: base, cache: Bootstrap.adapterCache(dataDirectory), settings: workerSettings, logger: logger))
            }
            if runScheduler { loop.append(RetrainingScheduler(store: store, settings: scheduleSettings, logger: logger)) }
            let app = try await buildApplication(configuration: config, store: store, model: model, metrics: metrics, services: loop, logger: logger)
            var banner = "IntentLoop is serving \(model.version) at http://\(config.host):\(config.port)/\n  database: \(location)"
                + "\n  inference: \(model.classifier.encoder.precision.rawValue)"
            if let c = credentials {
                banner += """

                  agent pages: http://\(config.host):\(config.port)/login
                    demo-admin / \(c.adminPassword)
                    demo-agent / \(c.agentPassword)
                  API client token (demo-client): \(c.clientToken)
                    curl -s -H 'Authorization: Bearer \(c.clientToken)' -H 'Content-Type: application/json' \\
                         -d '{"text": "where is my parcel"}' http://\(config.host):\(config.port)/v1/predict
                """
            }
            // Unbuffered: scripts wait for this banner on a pipe.
            FileHandle.standardOutput.write(Data((banner + "\n").utf8))
            return app
        }
        try await runServices(embedded: embedded, pool: pool, main: server, what: "server", logger: logger)
    }
}

/// Applies pending migrations at the start of a long-running command (serve, worker), bounded: an
/// unreachable --database-url must not hang the start for ever.
func migrateAtStart(_ store: Store, location: String) async throws {
    do {
        _ = try await race(limit: .seconds(60)) { try await store.migrate() }
    } catch let error as StoreError { throw CLIFailure(message: error.description, code: 1) } catch is DeadlineExceeded {
        throw CLIFailure(message: "the database did not answer within 60 s (\(location))", code: 1)
    } catch let error as PSQLError {
        throw CLIFailure(message: "migrating the database failed: \(error.serverInfo?[.message] ?? "\(error.code)")", code: 1)
    }
}

/// Runs a long-running command as one ServiceGroup, started in order — the embedded PostgreSQL
/// (supervised) when there is one, the pool, then `main` — and stopped in reverse on SIGTERM or
/// SIGINT (30 s at most).
func runServices(embedded: EmbeddedPostgres?, pool: DatabasePool, main: any Service, what: String, logger: Logger) async throws {
    var services: [any Service] = []
    if let embedded { services.append(EmbeddedPostgresService(postgres: embedded, logger: logger)) }
    services += [pool, main]
    var configuration = ServiceGroupConfiguration(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                                                  logger: logger)
    configuration.maximumGracefulShutdownDuration = .seconds(30)
    do { try await ServiceGroup(configuration: configuration).run() } catch let error as ServiceGroupError {
        logger.error("\(what) stopped", metadata: ["error": "\(error)"])
        throw CLIFailure(message: "the \(what) stopped: \(error)", code: 1)
    }
}

/// The server as a service: `prepare` (migrations, demo data, the model, the application), then
/// the application until graceful shutdown. A graceful shutdown (SIGTERM, SIGINT) during
/// `prepare` — the first adapter's training takes minutes — cancels it, and the long waits of
/// start-up (`race`) give way to cancellation, so the group still stops in order.
struct StartupService<App: Service>: Service {
    let prepare: @Sendable () async throws -> App
    init(_ prepare: @escaping @Sendable () async throws -> App) { self.prepare = prepare }
    func run() async throws {
        let app: App
        do { app = try await cancelWhenGracefulShutdown(prepare) } catch is CancellationError where Task.isShuttingDownGracefully {
            return
        }
        try await app.run()
    }
}
