import Foundation
import IntentKernels
import IntentModel
import IntentTestSupport
import Testing
import Tokenization
@testable import Training

/// LoRA and head gradients for one batch of the real all-MiniLM-L6-v2 against PEFT's
/// (golden from ops/reference/make_lora_golden.py: r 2 on all six projections of every layer,
/// no dropout, cross-entropy on a mean-pooled linear head). Tolerance: per tensor, max abs
/// difference ≤ 1e-3 of that tensor's largest reference gradient (float32 over 6 layers).
/// Loading, the forward and backward passes and the comparison run off the cooperative pool;
/// the checks stay in the test body.
@Suite struct PEFTGradientTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Goldens/minilm-lora")

    @Test func gradientsMatchPEFT() async throws {
        let base = try await offPool { try BaseModel.load(ModelCache.defaultBaseModel) }
        let adapter = try Adapter.load(from: Self.golden, encoder: base.encoder.config)
        #expect(adapter.parameters.lora.targets == TensorNames.Projection.allCases)
        #expect(adapter.parameters.lora.rank == 2 && adapter.parameters.lora.scaling == 2)
        let batchJSON = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.golden.appendingPathComponent("batch.json"))) as? [String: Any])
        let texts = try #require(batchJSON["texts"] as? [String])
        let labels = try #require(batchJSON["labels"] as? [Int]).map(Int32.init)
        let referenceLoss = try #require(batchJSON["loss"] as? Double)

        // The loss and our gradients, written under the adapter's tensor names, against PEFT's:
        // per tensor (sorted by PEFT's name), the max abs difference over the largest gradient.
        let golden = Self.golden
        let (loss, ourTensors, referenceTensors, diffs) = try await offPool { () throws -> (Float, Int, Int, [(String, Float)]) in
            let model = LoRAModel(base: base.encoder.weights, params: adapter.parameters, pooling: .mean, seed: 0, threads: 1)
            let k = adapter.parameters.classes, b = texts.count
            let logits = model.forward(base.tokenizer.encodeBatch(texts), training: false)
            var probs = [Float](repeating: 0, count: b * k)
            softmaxForward(&probs, logits, rows: b, classes: k)
            let dLogits = model.ws.p(model.ws.dLogits)
            dLogits.update(repeating: 0, count: b * k)
            let loss = crossEntropyForwardBackward(dlogits: dLogits, probs: probs, labels: labels, rows: b, classes: k)
            model.grads.zero()
            model.backward()

            let ours = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: ours) }
            let asAdapter = Adapter(parameters: Self.gradientView(model), labels: adapter.labels)
            try asAdapter.save(to: ours)
            let mine = try SafeTensorsFile(url: ours.appendingPathComponent("adapter_model.safetensors"))
            let reference = try SafeTensorsFile(url: golden.appendingPathComponent("grads.safetensors"))
            var diffs: [(String, Float)] = []
            for name in reference.tensors.keys.sorted() {
                // Our head is saved as `intentloop_head` (see Adapter), PEFT's golden names it `classifier`.
                let ourName = name.replacingOccurrences(of: ".classifier.", with: ".intentloop_head.")
                let r = try reference.floats(name), m = try mine.floats(ourName, shape: reference.tensors[name]!.shape)
                let scale = max(r.map(abs).max()!, 1e-12)
                diffs.append((name, zip(r, m).map { abs($0 - $1) }.max()! / scale))
            }
            return (loss, mine.tensors.count, reference.tensors.count, diffs)
        }
        #expect(abs(Double(loss) - referenceLoss) < 1e-4, "loss \(loss) vs PEFT \(referenceLoss)")
        #expect(ourTensors == referenceTensors)
        var worst: Float = 0
        for (name, diff) in diffs {
            worst = max(worst, diff)
            #expect(diff <= 1e-3, "\(name): max abs difference \(diff) of the largest gradient")
        }
        print("worst per-tensor relative gradient difference vs PEFT over \(referenceTensors) tensors: \(worst)")
    }

    /// The gradient block viewed as an adapter, so that `Adapter.save` names each tensor as PEFT does.
    static func gradientView(_ model: LoRAModel) -> AdapterParameters {
        let p = AdapterParameters(lora: model.params.lora, encoder: model.params.encoder, classes: model.params.classes)
        p.buffer.pointer.update(from: model.grads.pointer, count: model.grads.count)
        return p
    }
}
