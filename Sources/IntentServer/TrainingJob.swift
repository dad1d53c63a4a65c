import Foundation
import IntentData
import IntentKernels
import IntentModel
import IntentStore
import Logging
import LoopCore
import PostgresNIO
import Training

/// One attempt at a `train` job: snapshot the database, assemble the dataset (DatasetAssembly),
/// train a fresh adapter (with the production adapter as the frozen DPO reference when the recipe's
/// λ is above 0; the job's default is 0, `WorkerSettings`), evaluate it on
/// the evaluation pool and the golden set (beside its parent), and hand back a `candidate`.
struct TrainingJob {
    let store: Store
    let base: BaseModel
    let cache: AdapterCache
    let settings: WorkerSettings
    let logger: Logger

    struct Failure: Error {
        let message: String
        let retryable: Bool
    }

    func run(_ job: ClaimedJob, _ control: JobControl) async -> JobWorker.Outcome {
        do {
            return try await attempt(job, control)
        } catch let error as Failure {
            return .failed(error.message, retryable: error.retryable)
        } catch let error as TrainingError where error.stopped {
            return .stopped(control.stop ?? .shutdown)
        } catch let error as TrainingError {
            return .failed("training failed: \(error.message)", retryable: false)
        } catch let error as StoreError where error.code == .unavailable {
            return .failed(error.message, retryable: true)
        } catch let error as PSQLError {
            return .failed("database error: \(error.serverInfo?[.message] ?? "\(error.code)")", retryable: true)
        } catch is CancellationError {
            return .stopped(control.stop ?? .shutdown)
        } catch {
            return .failed("\(error)", retryable: false)
        }
    }

    func attempt(_ job: ClaimedJob, _ control: JobControl) async throws -> JobWorker.Outcome {
        control.setProgress(JobProgress(phase: "assembling"))
        let snapshot = try await store.datasetSnapshot()
        let dataset = DatasetAssembly.assemble(snapshot, evaluationPercent: settings.evaluationPercent)
        guard dataset.labels.count >= 2 else {
            throw Failure(message: "nothing to train: \(dataset.labels.count) intent\(dataset.labels.count == 1 ? "" : "s") with training examples (at least 2 needed)",
                          retryable: false)
        }
        let production = try await store.productionAdapter()
        var parent: Adapter?
        if let production {
            let folder = try await cache.folder(for: try await store.adoptLegacyAdapter(production), store: store)
            do { parent = try Adapter.load(from: folder, encoder: base.encoder.config) } catch {
                throw Failure(message: "the production adapter \(production.version) cannot be loaded: \(error)", retryable: false)
            }
        }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        var adapter = NewAdapter(version: "j\(job.id)a\(job.attempt)-\(stamp)", status: .training, labels: dataset.labels, files: [:])
        adapter.parentVersion = production?.version
        adapter.jobID = job.id
        adapter.feedbackRange = dataset.feedbackRange
        adapter.datasetSHA256 = dataset.sha256
        adapter.dataSummary = dataset.summary
        adapter.reason = "training in job \(job.id), attempt \(job.attempt)"
        let training = adapter
        try await store.transaction { c in try await store.storeAdapter(training, actor: nil, on: c) }
        logger.info("training a fresh adapter", metadata: [
            "intent.adapter.version": "\(adapter.version)", "train.examples": "\(dataset.training.count)", "train.pairs": "\(dataset.pairs.count)",
            "train.intents": "\(dataset.labels.count)", "train.evaluation": "\(dataset.evaluation.count)",
        ])

        control.setProgress(JobProgress(phase: "training"))
        let options = settings.training, base = base, reference = parent, precision = settings.precision
        let trained = try await onDedicatedThread(name: "intentloop.job") { () throws -> (metrics: [String: String], files: [String: Data], outcomes: Outcomes) in
            lowerThreadPriority(by: options.niceness)
            let report = try Trainer(base: base, options: options).train(
                labels: dataset.labels, examples: dataset.training,
                // λ = 0: the corrections still train as labelled examples; their pairs would only cost forward passes.
                pairs: options.dpoWeight > 0 ? dataset.pairs.map { PreferencePair(text: $0.text, chosen: $0.chosen, rejected: $0.rejected) } : [],
                reference: reference,
                progress: { p in
                    control.setProgress(JobProgress(phase: p.phase, epoch: p.epoch, epochs: p.epochs, step: p.step, totalSteps: p.totalSteps,
                                                    loss: Double(p.loss), examplesPerSecond: p.examplesPerSecond, etaSeconds: p.secondsRemaining))
                },
                shouldStop: control.stopReason)
            control.setProgress(JobProgress(phase: "evaluating"))
            var (metrics, outcomes) = Self.evaluate(report.adapter, reference: reference, dataset: dataset, base: base, precision: precision)
            metrics["inference_precision"] = precision.effective.rawValue
            metrics["training_seconds"] = String(format: "%.1f", report.probeSeconds + report.trainingSeconds)
            metrics["examples_per_s"] = String(format: "%.1f", report.examplesPerSecond)
            metrics["epochs_run"] = "\(report.history.count)"
            metrics["lora_targets"] = options.lora.targets.map(\.userName).joined(separator: ",")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-job-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try report.adapter.save(to: folder)
            return (metrics, try AdapterContent.read(directory: folder), outcomes)
        }
        adapter.status = .candidate
        adapter.files = trained.files
        adapter.metrics = trained.metrics
        adapter.reason = "trained by job \(job.id)"
        var result = trained.metrics
        result["adapter_version"] = adapter.version
        result["feedback_to"] = "\(dataset.feedbackRange?.upperBound ?? 0)"
        result["dataset_sha256"] = dataset.sha256
        var outcomes = [adapter.version: trained.outcomes.candidate]
        if let production, !trained.outcomes.parent.isEmpty { outcomes[production.version] = trained.outcomes.parent }
        return .succeeded(result: result, adapter: adapter, outcomes: outcomes)
    }

    typealias Outcomes = (candidate: [AdapterOutcome], parent: [AdapterOutcome])

    /// Accuracy and macro-F1 of the new adapter, and of its parent on the same utterances; and
    /// what each predicted for every item (stored for the gate's paired tests).
    static func evaluate(_ adapter: Adapter, reference: Adapter?, dataset: AssembledDataset, base: BaseModel,
                         precision: Precision) -> ([String: String], Outcomes) {
        var metrics: [String: String] = ["evaluation_pool_size": "\(dataset.evaluation.count)", "golden_size": "\(dataset.golden.count)"]
        var outcomes: Outcomes = ([], [])
        let candidate = try? IntentClassifier(base: base, adapter: adapter, precision: precision)
        let parent = reference.flatMap { try? IntentClassifier(base: base, adapter: $0, precision: precision) }
        for (source, examples) in [(AdapterOutcome.Source.evaluationPool, dataset.evaluation), (.golden, dataset.golden)] where !examples.isEmpty {
            let name = source.rawValue
            func run(_ classifier: IntentClassifier) -> (Evaluation, [AdapterOutcome]) {
                let predictions = classifier.predict(examples.map(\.text), topK: 1, batchSize: 64)
                let rows = zip(examples, predictions).map {
                    AdapterOutcome(source: source, text: $0.text, label: $0.intent, predicted: $1.intent, confidence: $1.confidence)
                }
                return (Evaluation(expected: examples.map(\.intent), predicted: predictions.map(\.intent)), rows)
            }
            if let candidate {
                let (e, rows) = run(candidate)
                outcomes.candidate += rows
                metrics["\(name)_accuracy"] = String(format: "%.4f", e.accuracy)
                metrics["\(name)_macro_f1"] = String(format: "%.4f", e.macroF1)
            }
            if let parent {
                let (e, rows) = run(parent)
                outcomes.parent += rows
                metrics["parent_\(name)_accuracy"] = String(format: "%.4f", e.accuracy)
                metrics["parent_\(name)_macro_f1"] = String(format: "%.4f", e.macroF1)
            }
        }
        return (metrics, outcomes)
    }
}
