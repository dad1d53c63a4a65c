import Foundation
import IntentKernels
import IntentModel
import IntentTestSupport
import Testing
import Tokenization
@testable import Training

/// Analytic gradients of the whole trainable path (LoRA pairs on every projection of every layer,
/// head, mean and CLS pooling) against central finite differences on a tiny random model.
/// The finite differences (two forward passes per parameter) run off the cooperative pool.
@Suite struct LoRAGradientTests {
    @Test(arguments: [Pooling.mean, .cls])
    func everyTrainableGradientMatchesFiniteDifferences(pooling: Pooling) async throws {
        let (worst, parameters) = try await offPool { () -> (Float, Int) in
            let weights = tinyRandomWeights(seed: 11)
            let lora = LoRAConfig(rank: 2, alpha: 4, dropout: 0, targets: TensorNames.Projection.allCases)
            let params = AdapterParameters(lora: lora, encoder: weights.config, classes: 3)
            randomize(params, seed: 12)
            let model = LoRAModel(base: weights, params: params, pooling: pooling, seed: 1, threads: 1)
            let batch = TokenBatch(sequences: [[2, 5, 7], [3], [4, 9, 11, 6]])
            var rng = SplitMix64(seed: 13)
            let probe = (0..<9).map { _ in Float.random(in: -1..<1, using: &rng) }
            func loss() -> Double {
                let z = model.forward(batch, training: false)
                return (0..<9).reduce(0.0) { $0 + Double(z[$1]) * Double(probe[$1]) }
            }
            _ = model.forward(batch, training: false)
            let ws = model.ws
            for i in 0..<9 { ws.p(ws.dLogits)[i] = probe[i] }
            model.grads.zero()
            model.backward()
            return (worstRelativeError(analytic: model.grads.array, params: params, loss: loss), params.buffer.count)
        }
        #expect(worst < 2e-3, "worst relative gradient error \(worst) over \(parameters) parameters")
    }

    @Test func mergedInferenceEqualsUnmergedForward() throws {
        let weights = tinyRandomWeights(seed: 21)
        let lora = LoRAConfig(rank: 2, alpha: 4, dropout: 0.3, targets: [.query, .value, .intermediate, .output])
        let params = AdapterParameters(lora: lora, encoder: weights.config, classes: 3)
        randomize(params, seed: 22)
        let model = LoRAModel(base: weights, params: params, pooling: .mean, seed: 1, threads: 1)
        let batch = TokenBatch(sequences: [[2, 5, 7], [3, 8]])
        let unmerged = Array(UnsafeBufferPointer(start: model.forward(batch, training: false), count: 6))
        let merged = Encoder(weights: weights.merged(with: params))
        let pooled = merged.embed(batch, pooling: .mean, normalize: false, workspace: EncoderWorkspace())
        var logits = [Float](repeating: 0, count: 6)
        linearForward(&logits, pooled, params.pointer(params.headWeight), params.pointer(params.headBias), rows: 2, inFeatures: 8, outFeatures: 3)
        #expect(zip(unmerged, logits).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test func dropoutIsDeterministicGivenSeed() {
        let weights = tinyRandomWeights(seed: 31)
        let params = AdapterParameters(lora: LoRAConfig(rank: 2, alpha: 4, dropout: 0.5), encoder: weights.config, classes: 2)
        randomize(params, seed: 32)
        let batch = TokenBatch(sequences: [[2, 5, 7, 9]])
        func run(seed: UInt64) -> [Float] {
            let m = LoRAModel(base: weights, params: params, pooling: .mean, seed: seed, threads: 1)
            return Array(UnsafeBufferPointer(start: m.forward(batch, training: true), count: 2))
        }
        #expect(run(seed: 5) == run(seed: 5))
        #expect(run(seed: 5) != run(seed: 6))
    }
}

@Suite struct LossGradientTests {
    @Test func crossEntropyWithSmoothingAndClassWeights() {
        var rng = SplitMix64(seed: 41)
        let b = 3, k = 4
        var logits = (0..<(b * k)).map { _ in Float.random(in: -2..<2, using: &rng) }
        let labels: [Int32] = [0, 3, 1], weights: [Float] = [1, 2, 0.5, 3]
        func loss(_ z: [Float]) -> Float {
            var p = [Float](repeating: 0, count: z.count)
            softmaxForward(&p, z, rows: b, classes: k)
            return crossEntropyForwardBackward(dlogits: nil, probs: p, labels: labels, rows: b, classes: k, labelSmoothing: 0.1, classWeights: weights)
        }
        var p = [Float](repeating: 0, count: b * k), d = [Float](repeating: 0, count: b * k)
        softmaxForward(&p, logits, rows: b, classes: k)
        crossEntropyForwardBackward(dlogits: &d, probs: p, labels: labels, rows: b, classes: k, labelSmoothing: 0.1, classWeights: weights)
        for i in logits.indices {
            let saved = logits[i]
            logits[i] = saved + 1e-2; let up = loss(logits)
            logits[i] = saved - 1e-2; let down = loss(logits)
            logits[i] = saved
            #expect(abs((up - down) / 2e-2 - d[i]) < 1e-3)
        }
    }

    @Test func dpoGradientAndValue() {
        let k = 3
        var z: [Float] = [1, 0.5, -1, 0.2, 0.1, 0.3]
        let chosen: [Int32] = [0, 2], rejected: [Int32] = [1, 0], ref: [Float] = [0.3, -0.4]
        func loss(_ z: [Float]) -> Float {
            dpoForwardBackward(dlogits: nil, logits: z, chosen: chosen, rejected: rejected, refMargins: ref, rows: 2, classes: k, beta: 2)
        }
        // margin_0 = (1 − 0.5) − 0.3 = 0.2; loss_0 = −log σ(0.4)
        let expected0: Float = -log(1 / (1 + exp(Float(-0.4))))
        let margin1: Float = (0.3 - 0.2) + 0.4
        let expected1 = -log(1 / (1 + exp(-2 * margin1)))
        #expect(abs(loss(z) - (expected0 + expected1) / 2) < 1e-6)
        var d = [Float](repeating: 0, count: 6)
        dpoForwardBackward(dlogits: &d, logits: z, chosen: chosen, rejected: rejected, refMargins: ref, rows: 2, classes: k, beta: 2)
        for i in z.indices {
            let saved = z[i]
            z[i] = saved + 1e-2; let up = loss(z)
            z[i] = saved - 1e-2; let down = loss(z)
            z[i] = saved
            #expect(abs((up - down) / 2e-2 - d[i]) < 1e-3)
        }
    }

    @Test func adamWStepMatchesHandComputation() {
        var p: [Float] = [1, -2], m: [Float] = [0, 0], v: [Float] = [0, 0]
        let g: [Float] = [0.5, -1]
        adamWUpdate(params: &p, grads: g, m: &m, v: &v, decay: nil, count: 2, learningRate: 0.1, weightDecay: 0.01, step: 1)
        // First step: m̂ = g, v̂ = g², update = lr (sign(g) + wd · p)
        #expect(abs(p[0] - (1 - 0.1 * (1 + 0.01 * 1))) < 1e-5)
        #expect(abs(p[1] - (-2 - 0.1 * (-1 + 0.01 * -2))) < 1e-5)
    }
}

/// Splitting a batch over workers gives the same loss and gradient as one pass over it (the
/// training steps run off the cooperative pool).
@Suite struct DataParallelTests {
    @Test func sharesSumToTheWholeBatchGradient() async throws {
        let (whole, split, singleGrads, workerGrads) = try await offPool { () throws -> (Float, Float, [Float], [Float]) in
            let base = try BaseModel.load(TestPaths.tinyBERT)
            var o = TrainingOptions()
            o.lora = LoRAConfig(rank: 2, alpha: 4, dropout: 0)
            o.labelSmoothing = 0.1
            o.dpoWeight = 0.5
            let trainer = Trainer(base: base, options: o)
            let params = AdapterParameters(lora: o.lora, encoder: base.encoder.config, classes: 3)
            randomize(params, seed: 51)
            let items: [Trainer.Item] = [
                .labelled(tokens: [2, 5, 7, 3], label: 0), .labelled(tokens: [2, 9, 3], label: 2),
                .pair(tokens: [2, 11, 12, 13, 3], chosen: 1, rejected: 0, refMargin: 0.2),
                .labelled(tokens: [2, 6, 6, 8, 9, 3], label: 1), .pair(tokens: [2, 8, 3], chosen: 2, rejected: 1, refMargin: -0.1),
            ]
            let weights: [Float] = [1, 2, 0.5]
            func model() -> LoRAModel { LoRAModel(base: base.encoder.weights, params: params, pooling: .mean, seed: 1, threads: 1) }
            let single = model()
            let whole = trainer.trainStep(model: single, items: items, classWeights: weights, ceTotal: 1 + 0.5 + 2, pairTotal: 2)
            let workers = [model(), model()]
            let split = trainer.parallelStep(models: workers, items: items, classWeights: weights)
            return (whole, split, single.grads.array, workers[0].grads.array)
        }
        #expect(abs(whole - split) < 1e-5)
        #expect(relativeDifference(singleGrads, workerGrads) < 1e-4)
    }

    func relativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        let scale = max(1e-6, a.map(abs).max()!)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }
}

/// The same check with every dropout on (LoRA input, embeddings, both residual branches, attention
/// probabilities): the generator is reset before each forward pass, so every evaluation draws the
/// same masks and the finite differences see one fixed function. Computed off the cooperative pool.
@Suite struct DropoutGradientTests {
    @Test func gradientsThroughEncoderDropoutMatchFiniteDifferences() async throws {
        let (dropped, clean, worst, parameters) = try await offPool { () -> ([Float], [Float], Float, Int) in
            let weights = tinyRandomWeights(seed: 14)
            let lora = LoRAConfig(rank: 2, alpha: 4, dropout: 0.2, targets: TensorNames.Projection.allCases)
            let params = AdapterParameters(lora: lora, encoder: weights.config, classes: 3)
            randomize(params, seed: 15)
            let model = LoRAModel(base: weights, params: params, pooling: .mean, seed: 1, threads: 1)
            model.hiddenDropout = 0.25
            model.attentionDropout = 0.25
            let batch = TokenBatch(sequences: [[2, 5, 7], [3], [4, 9, 11, 6]])
            var rng = SplitMix64(seed: 16)
            let probe = (0..<9).map { _ in Float.random(in: -1..<1, using: &rng) }
            func forward() -> UnsafeMutablePointer<Float> {
                model.dropoutGenerator = SplitMix64(seed: 99)
                return model.forward(batch, training: true)
            }
            func loss() -> Double {
                let z = forward()
                return (0..<9).reduce(0.0) { $0 + Double(z[$1]) * Double(probe[$1]) }
            }
            let dropped = Array(UnsafeBufferPointer(start: forward(), count: 9))
            let clean = Array(UnsafeBufferPointer(start: model.forward(batch, training: false), count: 9))
            _ = forward()
            let ws = model.ws
            for i in 0..<9 { ws.p(ws.dLogits)[i] = probe[i] }
            model.grads.zero()
            model.backward()
            let worst = worstRelativeError(analytic: model.grads.array, params: params, loss: loss)
            return (dropped, clean, worst, params.buffer.count)
        }
        #expect(dropped != clean, "dropout changed nothing")
        #expect(worst < 2e-3, "worst relative gradient error \(worst) over \(parameters) parameters")
    }
}

/// Central finite differences (step 1e-2) of `loss` over every parameter against `analytic`:
/// the worst absolute difference relative to the largest analytic gradient (at least 1).
func worstRelativeError(analytic: [Float], params: AdapterParameters, loss: () -> Double) -> Float {
    let eps: Float = 1e-2
    var worst: Float = 0
    let scale = max(1, analytic.map(abs).max()!)
    for i in 0..<params.buffer.count {
        let saved = params.buffer.pointer[i]
        params.buffer.pointer[i] = saved + eps
        let up = loss()
        params.buffer.pointer[i] = saved - eps
        let down = loss()
        params.buffer.pointer[i] = saved
        let numeric = Float((up - down) / Double(2 * eps))
        worst = max(worst, abs(numeric - analytic[i]) / scale)
    }
    return worst
}
