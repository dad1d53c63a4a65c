import Dispatch
import IntentData
import IntentKernels
import IntentModel
import Tokenization

/// What one epoch did.
public struct EpochRecord: Sendable {
    public var epoch: Int
    public var meanLoss: Float
    public var validationAccuracy: Double?
    public var seconds: Double
}

/// The result of a training run.
public struct TrainingReport: Sendable {
    public var adapter: Adapter
    public var history: [EpochRecord]
    public var probeSeconds: Double
    public var trainingSeconds: Double
    /// Training examples (CE rows + preference pairs) processed per second in the joint phase.
    public var examplesPerSecond: Double
    public var bestEpoch: Int
}

/// Trains a fresh (or continued) adapter on the CPU: linear probe of the head on frozen
/// embeddings, then LoRA + head jointly with AdamW, warm-up + linear decay, global-norm clipping,
/// cross-entropy on labelled examples + λ·DPO on preference pairs, early stopping on a
/// validation set. Runs on the calling thread (never call it from Swift's cooperative pool).
public final class Trainer {
    public let base: BaseModel
    public let options: TrainingOptions

    public init(base: BaseModel, options: TrainingOptions) {
        self.base = base
        self.options = options
    }

    enum Item {
        case labelled(tokens: [Int32], label: Int32)
        case pair(tokens: [Int32], chosen: Int32, rejected: Int32, refMargin: Float)

        var tokens: [Int32] {
            switch self {
            case .labelled(let t, _), .pair(let t, _, _, _): t
            }
        }
    }

    public func train(
        labels: [String], examples: [LabelledExample], pairs: [PreferencePair] = [], validation: [LabelledExample] = [],
        initial: Adapter? = nil, reference: Adapter? = nil, progress: ((TrainingProgress) -> Void)? = nil,
        shouldStop: (() -> String?)? = nil
    ) throws(TrainingError) -> TrainingReport {
        let o = options
        guard !labels.isEmpty else { throw TrainingError("no intents to train") }
        guard Set(labels).count == labels.count else { throw TrainingError("duplicate intent names in the label set") }
        guard !examples.isEmpty || !pairs.isEmpty else { throw TrainingError("the training set is empty") }
        guard o.epochs >= 1, o.batchSize >= 1, o.learningRate > 0, o.learningRate.isFinite else {
            throw TrainingError("epochs, batch size and learning rate must be positive")
        }
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, Int32($0)) })
        func label(_ intent: String, _ what: String) throws(TrainingError) -> Int32 {
            guard let i = index[intent] else { throw TrainingError("unknown intent '\(intent)' in \(what)") }
            return i
        }
        var labelled: [(tokens: [Int32], label: Int32)] = []
        for (n, e) in examples.enumerated() { labelled.append((base.tokenizer.encode(e.text), try label(e.intent, "training example \(n + 1)"))) }
        var pairIDs: [(tokens: [Int32], chosen: Int32, rejected: Int32)] = []
        for (n, p) in pairs.enumerated() {
            let w = try label(p.chosen, "preference pair \(n + 1) (chosen)"), l = try label(p.rejected, "preference pair \(n + 1) (rejected)")
            guard w != l else { throw TrainingError("preference pair \(n + 1): chosen and rejected are both '\(p.chosen)'") }
            pairIDs.append((base.tokenizer.encode(p.text), w, l))
        }
        for (n, e) in validation.enumerated() { _ = try label(e.intent, "validation example \(n + 1)") }
        if let initial, initial.labels != labels {
            throw TrainingError("the label set (\(labels.count) intents) does not match the adapter's (\(initial.labels.count) intents)")
        }

        let params: AdapterParameters
        if let initial {
            params = initial.parameters.copy()
        } else {
            params = AdapterParameters(lora: o.lora, encoder: base.encoder.config, classes: labels.count)
            params.initialize(seed: o.seed)
        }
        func adapter(_ p: AdapterParameters, _ info: [String: String] = [:]) -> Adapter {
            Adapter(parameters: p, labels: labels, pooling: o.pooling, info: info)
        }
        // BLAS threads are the process's to set (the server runs single-threaded BLAS under its
        // predictor; a training job beside it must not change that): the trainer never sets them.

        // 1. Linear probe on frozen embeddings.
        var probeSeconds = 0.0
        if initial == nil && o.linearProbe && !labelled.isEmpty {
            let t0 = now()
            try fitHeadOnFrozenEmbeddings(params: params, labelled: labelled, shouldStop: shouldStop)
            probeSeconds = now() - t0
        }

        // 2. Reference margins for DPO, computed once with the frozen reference model.
        var items: [Item] = []
        if o.ceWeight > 0 { items += labelled.map { .labelled(tokens: $0.tokens, label: $0.label) } }
        if !pairIDs.isEmpty {
            // The reference may have another label set (an intent added or removed since): its
            // margin is read by intent name, and is 0 where it lacks either intent.
            let referenceAdapter = reference ?? initial
            let refModel = LoRAModel(base: base.encoder.weights, params: referenceAdapter?.parameters ?? params,
                                     pooling: o.pooling, seed: o.seed, threads: o.threads)
            let refLabels = referenceAdapter?.labels ?? labels
            let refIndex = Dictionary(uniqueKeysWithValues: refLabels.enumerated().map { ($1, $0) })
            let k = refLabels.count
            for start in stride(from: 0, to: pairIDs.count, by: 64) {
                try stopIfAsked(shouldStop)
                let chunk = pairIDs[start..<min(start + 64, pairIDs.count)]
                let logits = refModel.forward(TokenBatch(sequences: chunk.map(\.tokens)), training: false)
                for (r, p) in chunk.enumerated() {
                    var margin: Float = 0
                    if let w = refIndex[labels[Int(p.chosen)]], let l = refIndex[labels[Int(p.rejected)]] { margin = logits[r * k + w] - logits[r * k + l] }
                    items.append(.pair(tokens: p.tokens, chosen: p.chosen, rejected: p.rejected, refMargin: margin))
                }
            }
        }
        guard !items.isEmpty else { throw TrainingError("nothing to train on: DPO-only training (CE weight 0) needs preference pairs") }

        // 3. Joint LoRA + head training.
        var classWeights: [Float]? = nil
        if o.balanceClasses {
            var counts = [Float](repeating: 0, count: labels.count)
            for l in labelled { counts[Int(l.label)] += 1 }
            let mean = Float(labelled.count) / Float(labels.count)
            classWeights = counts.map { $0 > 0 ? mean / $0 : 0 }
        }
        // Data parallel over the cores: each worker runs forward + backward on its share of every
        // batch with single-threaded BLAS and its own workspace, gradients are summed. On 2 cores
        // this beats one multi-threaded pass, whose OpenBLAS threads spin through every
        // single-threaded section (layer norms, attention, GELU).
        let workers = max(1, o.threads)
        let models = (0..<workers).map { w in
            let m = LoRAModel(base: base.encoder.weights, params: params, pooling: o.pooling, seed: o.seed &+ UInt64(w) &* 7919, threads: 1)
            if o.encoderDropout {
                m.hiddenDropout = base.encoder.config.hiddenDropout
                m.attentionDropout = base.encoder.config.attentionDropout
            }
            return m
        }
        let model = models[0]
        let optimizer = AdamWState(count: params.buffer.count)
        let stepsPerEpoch = (items.count + o.batchSize - 1) / o.batchSize
        let totalSteps = stepsPerEpoch * o.epochs
        let warmup = max(1, Int((o.warmupFraction * Float(totalSteps)).rounded()))
        var shuffler = SplitMix64(seed: o.seed &+ 1)
        var order = Array(items.indices)
        var history: [EpochRecord] = []
        var lastGood = adapter(params.copy())
        var best: (accuracy: Double, epoch: Int, params: AdapterParameters)? = nil
        var step = 0, processed = 0
        let trainStart = now()
        for epoch in 1...o.epochs {
            let epochStart = now()
            order.shuffle(using: &shuffler)
            var lossSum: Double = 0
            for batchStart in stride(from: 0, to: order.count, by: o.batchSize) {
                let batchItems = order[batchStart..<min(batchStart + o.batchSize, order.count)].map { items[$0] }
                step += 1
                try stopIfAsked(shouldStop)
                let loss = parallelStep(models: models, items: batchItems, classWeights: classWeights)
                guard loss.isFinite else {
                    throw TrainingError("non-finite loss at epoch \(epoch), step \(step); kept the state of the last finished epoch", lastGood: lastGood)
                }
                let norm = sumOfSquares(model.grads.pointer, count: model.grads.count).squareRoot()
                guard norm.isFinite else {
                    throw TrainingError("non-finite gradient at epoch \(epoch), step \(step); kept the state of the last finished epoch", lastGood: lastGood)
                }
                if o.maxGradNorm > 0 && norm > Double(o.maxGradNorm) {
                    let scale = Float(Double(o.maxGradNorm) / norm)
                    for i in 0..<model.grads.count { model.grads.pointer[i] *= scale }
                }
                let lr = step <= warmup ? o.learningRate * Float(step) / Float(warmup)
                    : o.learningRate * Float(max(0, totalSteps - step)) / Float(max(1, totalSteps - warmup))
                optimizer.step(params: params, grads: model.grads, learningRate: lr, weightDecay: o.weightDecay)
                lossSum += Double(loss) * Double(batchItems.count)
                processed += batchItems.count
                let elapsed = now() - trainStart
                let rate = Double(processed) / max(elapsed, 1e-9)
                progress?(TrainingProgress(phase: "train", epoch: epoch, epochs: o.epochs, step: step, totalSteps: totalSteps,
                                           examplesPerSecond: rate, loss: loss,
                                           secondsRemaining: Double((totalSteps - step) * o.batchSize) / max(rate, 1e-9)))
            }
            guard allFinite(params.buffer.pointer, count: params.buffer.count) else {
                throw TrainingError("non-finite parameters after epoch \(epoch); kept the state of the last finished epoch", lastGood: lastGood)
            }
            var record = EpochRecord(epoch: epoch, meanLoss: Float(lossSum / Double(order.count)), validationAccuracy: nil, seconds: now() - epochStart)
            lastGood = adapter(params.copy())
            if !validation.isEmpty {
                // Early stopping compares epochs with each other, in fp32 like the training itself.
                let classifier = try? IntentClassifier(base: base, adapter: lastGood, precision: .fp32)
                let accuracy = classifier.map { Evaluation(classifier: $0, examples: validation).accuracy } ?? 0
                record.validationAccuracy = accuracy
                if best == nil || accuracy > best!.accuracy { best = (accuracy, epoch, params.copy()) }
            }
            history.append(record)
            if let best, epoch - best.epoch >= o.patience { break }
        }
        let trainingSeconds = now() - trainStart
        let final = best?.params ?? params
        let info = [
            "epochs_run": "\(history.count)", "best_epoch": "\(best?.epoch ?? history.count)",
            "learning_rate": "\(o.learningRate)", "batch_size": "\(o.batchSize)", "seed": "\(o.seed)",
            "training_examples": "\(labelled.count)", "preference_pairs": "\(pairIDs.count)",
            "recipe": initial == nil && o.linearProbe ? "LP-FT" : initial == nil ? "FT" : "continued",
        ]
        return TrainingReport(adapter: adapter(final, info), history: history, probeSeconds: probeSeconds,
                              trainingSeconds: trainingSeconds, examplesPerSecond: Double(processed) / max(trainingSeconds, 1e-9),
                              bestEpoch: best?.epoch ?? history.count)
    }
}

/// Throws when the caller asked training to stop (a cancelled job, a lost lease), with its reason.
func stopIfAsked(_ shouldStop: (() -> String?)?) throws(TrainingError) {
    if let reason = shouldStop?() { throw TrainingError(reason, stopped: true) }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
