import ArgumentParser
import Foundation
import IntentData
import IntentModel
import Training

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy, macro-F1, per-intent precision/recall/F1 and top confusions of an adapter on a dataset."
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var precision: PrecisionOption
    @Option(help: "Adapter directory.") var adapter: String
    @Option(help: "Dataset: JSONL, CSV or split-keyed JSON (FILE#split).") var data: String
    @Flag(help: "Print one JSON object (accuracy, macro_f1, per_intent, confusions).") var json = false
    @Option(help: "Confusions to list.") var confusions = 10

    func run() throws {
        let base = try model.loadModel()
        let loaded = try loadAdapter(adapter, base: base)
        let examples = try loadDataset(data)
        let unknown = Set(examples.map(\.intent)).subtracting(loaded.labels)
        guard unknown.isEmpty else {
            throw CLIFailure(message: "\(data): \(unknown.count) intents the adapter does not know: \(unknown.sorted().prefix(10).joined(separator: ", "))")
        }
        let classifier: IntentClassifier
        do { classifier = try IntentClassifier(base: base, adapter: loaded, precision: precision.precision) } catch { throw CLIFailure(message: error.description) }
        let t0 = Date()
        let e = Evaluation(classifier: classifier, examples: examples)
        let seconds = Date().timeIntervalSince(t0)
        if json {
            let object: [String: Any] = [
                "accuracy": e.accuracy, "macro_f1": e.macroF1, "count": e.count, "seconds": seconds,
                "inference_precision": classifier.encoder.precision.rawValue,
                "per_intent": e.perIntent.map { ["intent": $0.intent, "precision": $0.precision, "recall": $0.recall, "f1": $0.f1, "support": $0.support] },
                "confusions": e.confusions.prefix(confusions).map { ["expected": $0.expected, "predicted": $0.predicted, "count": $0.count] },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(String(format: "examples %d  accuracy %.2f%%  macro-F1 %.2f%%  (%.1f s, %@)", e.count, e.accuracy * 100, e.macroF1 * 100, seconds,
                     classifier.encoder.precision.rawValue))
        print("")
        let width = max(6, e.perIntent.map(\.intent.count).max() ?? 6)
        print("intent".padding(toLength: width, withPad: " ", startingAt: 0) + "  precision  recall     f1  support")
        for s in e.perIntent {
            print(s.intent.padding(toLength: width, withPad: " ", startingAt: 0)
                  + String(format: "  %9.3f  %6.3f  %5.3f  %7d", s.precision, s.recall, s.f1, s.support))
        }
        if !e.confusions.isEmpty {
            print("\ntop confusions (expected -> predicted: count)")
            for c in e.confusions.prefix(confusions) { print("  \(c.expected) -> \(c.predicted): \(c.count)") }
        }
    }
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict", abstract: "Classify texts with an adapter.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var precision: PrecisionOption
    @Option(help: "Adapter directory.") var adapter: String
    @Option(help: "Intents to list per text.") var topK = 5
    @Argument(help: "Texts to classify.") var texts: [String]

    func validate() throws {
        if texts.isEmpty { throw ValidationError("give at least one TEXT") }
        if topK < 1 { throw ValidationError("--top-k must be at least 1") }
        if let empty = texts.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            throw ValidationError("TEXT \(empty + 1) is empty")
        }
    }

    func run() throws {
        let base = try model.loadModel()
        let loaded = try loadAdapter(adapter, base: base)
        let classifier: IntentClassifier
        do { classifier = try IntentClassifier(base: base, adapter: loaded, precision: precision.precision) } catch { throw CLIFailure(message: error.description) }
        for (text, p) in zip(texts, classifier.predict(texts, topK: topK)) {
            let top = p.top.map { "{\"intent\":\(jsonString($0.intent)),\"probability\":\($0.probability)}" }.joined(separator: ",")
            print("{\"text\":\(jsonString(text)),\"intent\":\(jsonString(p.intent)),\"confidence\":\(p.confidence),\"top_k\":[\(top)]}")
        }
    }
}
