import Foundation
import IntentData
import IntentKernels
import IntentModel
import IntentTestSupport
import Testing
import Training

/// The trainer end to end on the tiny random BERT checkpoint (its vocabulary is a few words).
/// Training and prediction run off the cooperative pool (`offPool`, as the trainer asks); the
/// checks stay in the test bodies.
@Suite struct TrainerTests {
    let base: BaseModel
    let examples: [LabelledExample] = [
        .init(text: "the cat sat on the mat", intent: "cat"), .init(text: "a cat sat", intent: "cat"),
        .init(text: "my card is lost", intent: "card"), .init(text: "card lost", intent: "card"),
        .init(text: "help me", intent: "help"), .init(text: "help!", intent: "help"),
        .init(text: "dogs playing fast", intent: "dog"), .init(text: "the dog is running", intent: "dog"),
    ]
    let labels = ["card", "cat", "dog", "help"]

    init() throws { base = try BaseModel.load(TestPaths.tinyBERT) }

    func options() -> TrainingOptions {
        var o = TrainingOptions()
        o.epochs = 40
        o.learningRate = 2e-2
        o.batchSize = 4
        o.threads = 1
        o.lora = LoRAConfig(rank: 4, alpha: 8, dropout: 0.05)
        return o
    }

    @Test func fitsTheTrainingSetAndRoundTripsThroughPEFTFiles() async throws {
        let options = options()
        let (report, classifier, evaluation) = try await offPool { () throws -> (TrainingReport, IntentClassifier, Evaluation) in
            let report = try Trainer(base: base, options: options).train(labels: labels, examples: examples)
            let classifier = try IntentClassifier(base: base, adapter: report.adapter)
            return (report, classifier, Evaluation(classifier: classifier, examples: examples))
        }
        #expect(evaluation.accuracy == 1.0, "training accuracy \(evaluation.accuracy)")
        #expect(report.history.count == 40)
        #expect(report.history.last!.meanLoss < report.history.first!.meanLoss)

        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try report.adapter.save(to: dir)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("adapter_config.json"))) as? [String: Any]
        #expect(config?["peft_type"] as? String == "LORA")
        #expect(config?["task_type"] as? String == "FEATURE_EXTRACTION")
        #expect(config?["modules_to_save"] == nil)
        #expect(config?["target_modules"] as? [String] == ["query", "value"])
        let weights = try SafeTensorsFile(url: dir.appendingPathComponent("adapter_model.safetensors"))
        #expect(weights.tensors["base_model.model.encoder.layer.1.attention.self.value.lora_B.weight"]?.shape == [32, 4])
        #expect(weights.tensors["base_model.model.intentloop_head.weight"]?.shape == [4, 32])
        #expect(weights.tensors["base_model.model.classifier.weight"] == nil)
        let loaded = try Adapter.load(from: dir, encoder: base.encoder.config)
        #expect(loaded.labels == labels)
        let texts = examples.map(\.text)
        let (reloaded, original) = try await offPool { () throws -> ([Prediction], [Prediction]) in
            let again = try IntentClassifier(base: base, adapter: loaded)
            return (again.predict(texts), classifier.predict(texts))
        }
        #expect(reloaded.map(\.intent) == original.map(\.intent))
        #expect(zip(reloaded, original).allSatisfy { abs($0.confidence - $1.confidence) < 1e-6 })
    }

    @Test func earlyStoppingKeepsTheBestValidationEpoch() async throws {
        var o = options()
        o.patience = 1
        o.epochs = 30
        let report = try await offPool { [o] in
            try Trainer(base: base, options: o).train(labels: labels, examples: examples, validation: Array(examples.prefix(4)))
        }
        #expect(report.history.allSatisfy { $0.validationAccuracy != nil })
        let bestAccuracy = report.history.compactMap(\.validationAccuracy).max()!
        #expect(report.history[report.bestEpoch - 1].validationAccuracy == bestAccuracy)
    }

    @Test func preferencePairsMoveTheChosenIntentUp() async throws {
        var o = options()
        o.epochs = 10
        let pair = PreferencePair(text: "help me", chosen: "card", rejected: "help")
        var dpo = options()
        dpo.epochs = 20
        dpo.ceWeight = 0
        let (after, before) = try await offPool { [o, dpo] () throws -> (Float, Float) in
            let start = try Trainer(base: base, options: o).train(labels: labels, examples: examples).adapter
            let after = try Trainer(base: base, options: dpo).train(labels: labels, examples: [], pairs: [pair], initial: start).adapter
            func margin(_ a: Adapter) throws -> Float {
                let p = try IntentClassifier(base: base, adapter: a).predict(["help me"], topK: 4)[0].top
                return p.first { $0.intent == "card" }!.probability - p.first { $0.intent == "help" }!.probability
            }
            return (try margin(after), try margin(start))
        }
        #expect(after > before)
    }

    @Test func badInputIsRefusedClearly() async throws {
        // Refusals come from the input checks, before any training (so they may run here).
        let trainer = Trainer(base: base, options: options())
        #expect { try trainer.train(labels: labels, examples: []) } throws: { ($0 as? TrainingError)?.message == "the training set is empty" }
        #expect { try trainer.train(labels: labels, examples: [.init(text: "x", intent: "nope")]) } throws: {
            ($0 as? TrainingError)?.message.contains("unknown intent 'nope'") == true
        }
        #expect { try trainer.train(labels: labels, examples: examples, pairs: [.init(text: "help", chosen: "help", rejected: "zzz")]) } throws: {
            ($0 as? TrainingError)?.message.contains("unknown intent 'zzz' in preference pair 1") == true
        }
        // A real training run (to have an adapter with another label set): off the pool, with a
        // trainer like `trainer` (the same base and options; a trainer holds no other state).
        let options = options()
        let adapter = try await offPool { try Trainer(base: base, options: options).train(labels: labels, examples: examples).adapter }
        #expect { try trainer.train(labels: ["cat", "dog"], examples: [.init(text: "a cat", intent: "cat")], initial: adapter) } throws: {
            ($0 as? TrainingError)?.message.contains("does not match the adapter") == true
        }
    }

    @Test func divergenceStopsWithTheLastGoodState() async throws {
        var o = options()
        o.learningRate = 1e30
        o.maxGradNorm = 0
        o.linearProbe = false
        o.epochs = 5
        let outcome = try await offPool { [o] in
            Result { () throws(TrainingError) -> TrainingReport in try Trainer(base: base, options: o).train(labels: labels, examples: examples) }
        }
        switch outcome {
        case .success:
            Issue.record("training at learning rate 1e30 should diverge")
        case .failure(let error):
            #expect(error.message.contains("non-finite"))
            let good = try #require(error.lastGood)
            #expect((0..<good.parameters.buffer.count).allSatisfy { good.parameters.buffer.pointer[$0].isFinite })
        }
    }
}
