import IntentKernels
import IntentModel
import Tokenization

/// AdamW moments for one flat parameter block.
final class AdamWState {
    let m: FloatBuffer
    let v: FloatBuffer
    private(set) var steps = 0

    init(count: Int) {
        m = FloatBuffer(count: count)
        v = FloatBuffer(count: count)
    }

    /// One update of `count` parameters starting at `offset` (the whole block by default).
    func step(params: AdapterParameters, grads: FloatBuffer, learningRate: Float, weightDecay: Float, offset: Int = 0, count: Int? = nil) {
        steps += 1
        let n = count ?? (params.buffer.count - offset)
        adamWUpdate(params: params.buffer.pointer + offset, grads: grads.pointer + offset, m: m.pointer + offset, v: v.pointer + offset,
                    decay: params.decayMask.pointer + offset, count: n, learningRate: learningRate, weightDecay: weightDecay, step: steps)
    }
}

extension Trainer {
    /// One batch split over the workers (contiguous shares, one thread each); the gradients are
    /// summed into `models[0].grads`. Returns ceWeight · CE (mean over the batch's labelled rows)
    /// + λ · DPO (mean over its pair rows), exactly as one pass over the whole batch would.
    func parallelStep(models: [LoRAModel], items: [Item], classWeights: [Float]?) -> Float {
        var ceTotal: Float = 0, pairTotal: Float = 0
        for item in items {
            switch item {
            case .labelled(_, let label): ceTotal += classWeights?[Int(label)] ?? 1
            case .pair: pairTotal += 1
            }
        }
        let workers = min(models.count, items.count)
        // Shares of about equal token counts (the cost of a share is proportional to its tokens).
        let totalTokens = items.reduce(0) { $0 + $1.tokens.count }
        var cuts = [0]
        var running = 0
        for (i, item) in items.enumerated() where cuts.count < workers {
            running += item.tokens.count
            if running * workers >= totalTokens * cuts.count, i + 1 < items.count { cuts.append(i + 1) }
        }
        while cuts.count < workers { cuts.append(items.count) }
        cuts.append(items.count)
        var losses = [Float](repeating: 0, count: workers)
        losses.withUnsafeMutableBufferPointer { lossBuffer in
            let out = UnsafeSendableBox(lossBuffer.baseAddress!)
            parallelRanges(workers, threads: workers) { range in
                for w in range {
                    lowerThreadPriority(by: options.niceness, onDispatchWorker: true)
                    let share = Array(items[cuts[w]..<cuts[w + 1]])
                    guard !share.isEmpty else { models[w].grads.zero(); continue }
                    out.value[w] = trainStep(model: models[w], items: share, classWeights: classWeights, ceTotal: ceTotal, pairTotal: pairTotal)
                }
            }
        }
        let sum = models[0].grads
        for m in models[1..<workers] { for i in 0..<sum.count { sum.pointer[i] += m.grads.pointer[i] } }
        return losses.reduce(0, +)
    }

    /// Forward, losses and backward for one share of a batch; gradients are left in `model.grads`,
    /// scaled so that summing the shares gives the whole batch's gradient. `ceTotal` is the batch's
    /// total cross-entropy weight, `pairTotal` its number of preference pairs.
    func trainStep(model: LoRAModel, items: [Item], classWeights: [Float]?, ceTotal: Float, pairTotal: Float) -> Float {
        let o = options, k = model.classes, b = items.count
        let logits = model.forward(TokenBatch(sequences: items.map(\.tokens)), training: true)
        let ws = model.ws
        let dLogits = ws.p(ws.dLogits), probs = ws.p(ws.probs)
        dLogits.update(repeating: 0, count: b * k)
        softmaxForward(probs, logits, rows: b, classes: k)
        var loss: Float = 0
        var ceRows: [Int] = [], ceLabels: [Int32] = []
        var pairRows: [Int] = [], chosen: [Int32] = [], rejected: [Int32] = [], refMargins: [Float] = []
        for (r, item) in items.enumerated() {
            switch item {
            case .labelled(_, let label):
                ceRows.append(r); ceLabels.append(label)
            case .pair(_, let w, let l, let m):
                pairRows.append(r); chosen.append(w); rejected.append(l); refMargins.append(m)
            }
        }
        if !ceRows.isEmpty {
            var p = [Float](repeating: 0, count: ceRows.count * k), d = [Float](repeating: 0, count: ceRows.count * k)
            for (j, r) in ceRows.enumerated() { for c in 0..<k { p[j * k + c] = probs[r * k + c] } }
            let weights = classWeights ?? []
            let shareWeight = ceLabels.reduce(Float(0)) { $0 + (classWeights?[Int($1)] ?? 1) }
            let scale = o.ceWeight * shareWeight / ceTotal
            loss += scale * weights.withUnsafeBufferPointer { wb in
                crossEntropyForwardBackward(dlogits: &d, probs: p, labels: ceLabels, rows: ceRows.count, classes: k,
                                            labelSmoothing: o.labelSmoothing, classWeights: classWeights == nil ? nil : wb.baseAddress,
                                            scale: scale)
            }
            for (j, r) in ceRows.enumerated() { for c in 0..<k { dLogits[r * k + c] += d[j * k + c] } }
        }
        if !pairRows.isEmpty {
            var z = [Float](repeating: 0, count: pairRows.count * k), d = [Float](repeating: 0, count: pairRows.count * k)
            for (j, r) in pairRows.enumerated() { for c in 0..<k { z[j * k + c] = logits[r * k + c] } }
            let scale = o.dpoWeight * Float(pairRows.count) / pairTotal
            loss += scale * dpoForwardBackward(dlogits: &d, logits: z, chosen: chosen, rejected: rejected, refMargins: refMargins,
                                               rows: pairRows.count, classes: k, beta: o.dpoBeta, scale: scale)
            for (j, r) in pairRows.enumerated() { for c in 0..<k { dLogits[r * k + c] += d[j * k + c] } }
        }
        model.grads.zero()
        model.backward()
        return loss
    }

    /// Linear probe: fits the head (W, b) on frozen pooled embeddings of the labelled examples
    /// with mini-batch AdamW on cross-entropy.
    func fitHeadOnFrozenEmbeddings(params: AdapterParameters, labelled: [(tokens: [Int32], label: Int32)],
                                   shouldStop: (() -> String?)? = nil) throws(TrainingError) {
        let o = options, c = params.encoder.hiddenSize, k = params.classes, n = labelled.count
        let encoder = base.encoder
        var features = [Float](repeating: 0, count: n * c)
        // Frozen embeddings, data parallel like the training steps (BLAS stays as the process set it).
        let chunks = Array(stride(from: 0, to: n, by: 64))
        let workers = max(1, min(o.threads, chunks.count))
        features.withUnsafeMutableBufferPointer { out in
            let target = UnsafeSendableBox(out.baseAddress!)
            parallelRanges(workers, threads: workers) { range in
                for w in range {
                    lowerThreadPriority(by: o.niceness, onDispatchWorker: true)
                    let ws = EncoderWorkspace()
                    for i in stride(from: w, to: chunks.count, by: workers) where shouldStop?() == nil {
                        let start = chunks[i]
                        let chunk = labelled[start..<min(start + 64, n)]
                        let pooled = encoder.embed(TokenBatch(sequences: chunk.map(\.tokens)), pooling: o.pooling, normalize: false, workspace: ws)
                        pooled.withUnsafeBufferPointer { (target.value + start * c).update(from: $0.baseAddress!, count: pooled.count) }
                    }
                }
            }
        }
        try stopIfAsked(shouldStop)
        let labels = labelled.map(\.label)
        let grads = FloatBuffer(count: params.buffer.count)
        let adam = AdamWState(count: params.buffer.count)
        let headCount = k * c + k
        let batch = 256
        var rng = SplitMix64(seed: o.seed &+ 2)
        var order = Array(0..<n)
        var x = [Float](repeating: 0, count: batch * c), y = [Int32](repeating: 0, count: batch)
        var logits = [Float](repeating: 0, count: batch * k), probs = [Float](repeating: 0, count: batch * k)
        var dlogits = [Float](repeating: 0, count: batch * k)
        let steps = o.probeEpochs * ((n + batch - 1) / batch)
        var step = 0
        for _ in 0..<o.probeEpochs {
            order.shuffle(using: &rng)
            for start in stride(from: 0, to: n, by: batch) {
                let rows = min(batch, n - start)
                for (j, i) in order[start..<(start + rows)].enumerated() {
                    for ch in 0..<c { x[j * c + ch] = features[i * c + ch] }
                    y[j] = labels[i]
                }
                linearForward(&logits, x, params.pointer(params.headWeight), params.pointer(params.headBias), rows: rows, inFeatures: c, outFeatures: k)
                softmaxForward(&probs, logits, rows: rows, classes: k)
                for j in 0..<(rows * k) { dlogits[j] = 0 }
                crossEntropyForwardBackward(dlogits: &dlogits, probs: probs, labels: y, rows: rows, classes: k)
                (grads.pointer + params.headWeight).update(repeating: 0, count: headCount)
                linearBackward(dinp: nil, dweight: grads.pointer + params.headWeight, dbias: grads.pointer + params.headBias,
                               dout: dlogits, inp: x, weight: params.pointer(params.headWeight), rows: rows, inFeatures: c, outFeatures: k)
                step += 1
                let lr = o.probeLearningRate * (1 - Float(step - 1) / Float(steps))
                adam.step(params: params, grads: grads, learningRate: lr, weightDecay: 1e-4, offset: params.headWeight, count: headCount)
            }
        }
    }
}
