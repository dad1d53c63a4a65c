import ArgumentParser
import Foundation
import IntentKernels
import IntentData
import IntentModel
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a LoRA adapter + classification head (LP-FT) on a labelled dataset. No database needed."
    )

    @OptionGroup var model: ModelOptions
    @Option(help: "Training data: JSONL, CSV or split-keyed JSON (FILE#split).") var data: String
    @Option(help: "Directory to write the adapter to (PEFT layout + labels.json).") var out: String
    @Option(help: "Validation data for early stopping.") var val: String?
    @Option(help: "Preference pairs (JSONL: text, chosen, rejected) for the DPO term.") var preferences: String?
    @Option(help: "Continue from this adapter instead of a fresh one (its labels must match).") var initial: String?
    @Option(help: "Frozen reference adapter for DPO (default: --initial, else the model after the linear probe).") var reference: String?
    @Option var epochs: Int?
    @Option(help: "Peak learning rate (AdamW, 5% warm-up, linear decay).") var lr: Float?
    @Option var batchSize: Int?
    @Option var rank: Int?
    @Option var alpha: Float?
    @Option var dropout: Float?
    @Option(help: "LoRA targets, comma-separated: query,key,value,attention.output,intermediate,output.") var targets: String?
    @Option var seed: UInt64?
    @Option var weightDecay: Float?
    @Option var labelSmoothing: Float?
    @Flag(help: "Weight classes by inverse frequency.") var balanceClasses = false
    @Option(help: "Weight of the cross-entropy term (0 = DPO only).") var ceWeight: Float?
    @Option(help: "λ, weight of the DPO term.") var dpoWeight: Float?
    @Option(help: "β of the DPO loss.") var dpoBeta: Float?
    @Flag(help: "Skip the linear probe (train the head from zero with the LoRA pairs).") var noLinearProbe = false
    @Flag(help: "Turn off the encoder's own dropout (its config.json rates); LoRA dropout stays.") var noEncoderDropout = false
    @Option(help: "Early-stopping patience in epochs.") var patience: Int?
    @Option(help: "Epochs of the linear probe.") var probeEpochs: Int?
    @Option(help: "Learning rate of the linear probe.") var probeLr: Float?

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let rank, rank < 1 { throw ValidationError("--rank must be at least 1") }
        if let dropout, !(0..<1).contains(dropout) { throw ValidationError("--dropout must be in [0, 1)") }
        if let labelSmoothing, !(0..<1).contains(labelSmoothing) { throw ValidationError("--label-smoothing must be in [0, 1)") }
    }

    func run() throws {
        var o = TrainingOptions()
        if let epochs { o.epochs = epochs }
        if let lr { o.learningRate = lr }
        if let batchSize { o.batchSize = batchSize }
        if let seed { o.seed = seed }
        if let weightDecay { o.weightDecay = weightDecay }
        if let labelSmoothing { o.labelSmoothing = labelSmoothing }
        if let ceWeight { o.ceWeight = ceWeight }
        if let dpoWeight { o.dpoWeight = dpoWeight }
        if let dpoBeta { o.dpoBeta = dpoBeta }
        if let patience { o.patience = patience }
        if let probeEpochs { o.probeEpochs = probeEpochs }
        if let probeLr { o.probeLearningRate = probeLr }
        o.balanceClasses = balanceClasses
        o.linearProbe = !noLinearProbe
        o.encoderDropout = !noEncoderDropout
        o.threads = model.threads ?? ProcessInfo.processInfo.activeProcessorCount
        var loraTargets = o.lora.targets
        if let targets {
            do { loraTargets = try LoRAConfig.parseTargets(targets.split(separator: ",").map(String.init)) } catch {
                throw CLIFailure(message: error.description)
            }
        }
        o.lora = LoRAConfig(rank: rank ?? o.lora.rank, alpha: alpha ?? o.lora.alpha, dropout: dropout ?? o.lora.dropout, targets: loraTargets)
        let base = try model.loadModel()
        let examples = try loadDataset(data)
        let validation = try val.map(loadDataset) ?? []
        let pairs: [PreferencePair]
        do { pairs = try preferences.map(PreferencePair.load) ?? [] } catch { throw CLIFailure(message: error.description) }
        let initialAdapter = try initial.map { try loadAdapter($0, base: base) }
        let referenceAdapter = try reference.map { try loadAdapter($0, base: base) }
        let labels = initialAdapter?.labels ?? Set(examples.map(\.intent) + pairs.flatMap { [$0.chosen, $0.rejected] }).sorted()
        let known = Set(labels)
        let unknownVal = Set(validation.map(\.intent)).subtracting(known)
        guard unknownVal.isEmpty else {
            throw CLIFailure(message: "\(val!): intents not in the training labels: \(unknownVal.sorted().prefix(10).joined(separator: ", "))")
        }
        // The trainer's data-parallel workers (one per --threads) each run single-threaded BLAS;
        // the process sets that once, the trainer never switches it.
        setBLASThreads(1)
        let bar = ProgressReporter()
        let report: TrainingReport
        do {
            report = try Trainer(base: base, options: o).train(
                labels: labels, examples: examples, pairs: pairs, validation: validation,
                initial: initialAdapter, reference: referenceAdapter, progress: bar.update)
        } catch {
            bar.finish()
            if let good = error.lastGood {
                try good.save(to: URL(fileURLWithPath: out))
                throw CLIFailure(message: "\(error.message) (written to \(out))", code: 1)
            }
            throw CLIFailure(message: error.message)
        }
        bar.finish()
        try report.adapter.save(to: URL(fileURLWithPath: out))
        for e in report.history {
            let v = e.validationAccuracy.map { String(format: ", validation accuracy %.2f%%", $0 * 100) } ?? ""
            log(String(format: "epoch %d: mean loss %.4f%@ (%.1f s)", e.epoch, e.meanLoss, v, e.seconds))
        }
        log(String(format: "trained %d intents on %d examples + %d pairs: probe %.1f s, joint %.1f s at %.1f examples/s; best epoch %d; adapter written to %@",
                   labels.count, examples.count, pairs.count, report.probeSeconds, report.trainingSeconds, report.examplesPerSecond,
                   report.bestEpoch, out))
    }
}

func loadDataset(_ spec: String) throws -> [LabelledExample] {
    do { return try DatasetFile.load(spec) } catch { throw CLIFailure(message: error.description) }
}

func loadAdapter(_ path: String, base: BaseModel) throws -> Adapter {
    do { return try Adapter.load(from: URL(fileURLWithPath: path), encoder: base.encoder.config) } catch {
        throw CLIFailure(message: error.description)
    }
}

func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

/// A progress bar on a terminal (examples/s, loss, ETA), plain log lines otherwise.
final class ProgressReporter {
    let isTTY = isatty(STDERR_FILENO) != 0
    var lastLine = 0.0
    var drew = false

    func update(_ p: TrainingProgress) {
        let t = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
        let eta = String(format: "%d:%02d", Int(p.secondsRemaining) / 60, Int(p.secondsRemaining) % 60)
        let fraction = Double(p.step) / Double(max(p.totalSteps, 1))
        if isTTY {
            guard t - lastLine > 0.1 || p.step == p.totalSteps else { return }
            let width = 30, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r\u{1B}[2Kepoch %d/%d %@ %3.0f%% %6.1f ex/s loss %.4f ETA %@",
                                                      p.epoch, p.epochs, bar, fraction * 100, p.examplesPerSecond, p.loss, eta).utf8))
            drew = true
        } else {
            guard t - lastLine > 10 || p.step == p.totalSteps else { return }
            log(String(format: "epoch %d/%d step %d/%d (%.0f%%) %.1f examples/s loss %.4f ETA %@",
                       p.epoch, p.epochs, p.step, p.totalSteps, fraction * 100, p.examplesPerSecond, p.loss, eta))
        }
        lastLine = t
    }

    func finish() {
        if drew { FileHandle.standardError.write(Data("\n".utf8)) }
        drew = false
    }
}
