import IntentData
import IntentModel

/// Accuracy, macro-F1, per-intent precision/recall/F1 and the most frequent confusions.
public struct Evaluation: Sendable {
    public struct IntentScore: Sendable {
        public let intent: String
        public let precision: Double
        public let recall: Double
        public let f1: Double
        public let support: Int
    }
    public struct Confusion: Sendable {
        public let expected: String
        public let predicted: String
        public let count: Int
    }

    public let count: Int
    public let accuracy: Double
    public let macroF1: Double
    public let perIntent: [IntentScore]
    public let confusions: [Confusion]

    public init(classifier: IntentClassifier, examples: [LabelledExample], batchSize: Int = 64) {
        let predicted = classifier.predict(examples.map(\.text), topK: 1, batchSize: batchSize).map(\.intent)
        self.init(expected: examples.map(\.intent), predicted: predicted)
    }

    public init(expected: [String], predicted: [String]) {
        precondition(expected.count == predicted.count, "one prediction per example")
        count = expected.count
        var tp: [String: Int] = [:], fp: [String: Int] = [:], fn: [String: Int] = [:], support: [String: Int] = [:]
        var confusion: [String: [String: Int]] = [:]
        var correct = 0
        for (e, p) in zip(expected, predicted) {
            support[e, default: 0] += 1
            if e == p {
                correct += 1
                tp[e, default: 0] += 1
            } else {
                fp[p, default: 0] += 1
                fn[e, default: 0] += 1
                confusion[e, default: [:]][p, default: 0] += 1
            }
        }
        accuracy = count == 0 ? 0 : Double(correct) / Double(count)
        let intents = Set(expected).union(predicted).sorted()
        perIntent = intents.map { i in
            let t = Double(tp[i] ?? 0)
            let precision = t + Double(fp[i] ?? 0) > 0 ? t / (t + Double(fp[i] ?? 0)) : 0
            let recall = t + Double(fn[i] ?? 0) > 0 ? t / (t + Double(fn[i] ?? 0)) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return IntentScore(intent: i, precision: precision, recall: recall, f1: f1, support: support[i] ?? 0)
        }
        macroF1 = perIntent.isEmpty ? 0 : perIntent.map(\.f1).reduce(0, +) / Double(perIntent.count)
        confusions = confusion.flatMap { e, row in row.map { Confusion(expected: e, predicted: $0.key, count: $0.value) } }
            .sorted { ($0.count, $1.expected, $1.predicted) > ($1.count, $0.expected, $0.predicted) }
    }
}
