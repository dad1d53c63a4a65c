import ArgumentParser
import Foundation
import IntentKernels
import IntentModel
import IntentServer
import IntentStore
import PostgresNIO
import ServiceLifecycle
import Training

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run training jobs from the database's queue (start as many as you like, on any machines sharing the database).",
        discussion: "SIGTERM or SIGINT stops a running job and gives it back to the queue for another attempt.")

    @OptionGroup var database: DatabaseOptions
    @Option(name: [.customLong("base-model"), .customLong("model")], help: "Base model directory. Default: the cached all-MiniLM-L6-v2.")
    var baseModel: String?
    @OptionGroup(title: "Training jobs") var jobs: WorkerOptions
    @OptionGroup var precision: PrecisionOption

    func run() async throws {
        let logger = commandLogger("intentloop.worker")
        setBLASThreads(1)  // training is data parallel, one single-threaded BLAS per thread
        let base: BaseModel
        do { base = try BaseModel.load(baseModel.map { URL(fileURLWithPath: $0) } ?? ModelCache.defaultBaseModel) } catch {
            throw CLIFailure(message: error.description)
        }
        var settings = jobs.settings(defaultThreads: ProcessInfo.processInfo.activeProcessorCount)
        settings.training.niceness = 0  // a worker of its own has the machine to itself
        settings.precision = precision.precision.effective  // evaluate candidates as the replicas serve them
        let (embedded, endpoint, location) = try await database.server(logger: logger)
        let clientConfiguration = endpoint.clientConfiguration
        let pool = DatabasePool(logger: logger) { PostgresClient(configuration: clientConfiguration, backgroundLogger: logger) }
        let store = Store(pool: pool, logger: logger)
        let cache = Bootstrap.adapterCache(database.dataDirectory), workerSettings = settings
        let worker = StartupService {
            try await migrateAtStart(store, location: location)
            FileHandle.standardOutput.write(Data("IntentLoop worker \(workerSettings.name) is taking jobs from \(location)\n".utf8))
            return JobWorker(store: store, base: base, cache: cache, settings: workerSettings, logger: logger)
        }
        try await runServices(embedded: embedded, pool: pool, main: worker, what: "worker", logger: logger)
    }
}
