/// Precision, recall and F1 of one class.
public struct ClassMetrics: Sendable, Codable, Equatable {
    public let label: String
    /// TP / predicted count (0 when the class is never predicted).
    public let precision: Double
    /// TP / support (0 when the class never occurs in truth).
    public let recall: Double
    /// 2·TP / (2·TP + FP + FN) = 2·TP / (support + predicted count), the harmonic mean of precision
    /// and recall (0 when both are 0).
    public let f1: Double
    /// How often the class is the true label.
    public let support: Int
    /// How often the class is predicted.
    public let predictedCount: Int

    public init(label: String, precision: Double, recall: Double, f1: Double, support: Int, predictedCount: Int) {
        self.label = label
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.support = support
        self.predictedCount = predictedCount
    }
}

/// A confusion matrix and the per-class and averaged metrics derived from it, with scikit-learn's
/// conventions (`classification_report`, `precision_recall_fscore_support` with `zero_division=0`).
public struct ClassificationReport: Sendable, Codable, Equatable {
    /// The class names: those given, then any true or predicted label not among them, in order of
    /// first appearance (all of `truth`, then `predicted`).
    public let labels: [String]
    /// confusion[t][p]: how many items of true class labels[t] were predicted as labels[p].
    public let confusion: [[Int]]
    /// Correct predictions / items (0 when there are no items).
    public let accuracy: Double
    /// The mean F1 over the labels that occur in truth or predictions, as scikit-learn's
    /// `f1_score(average="macro")` when `labels=` is not passed: a class the model was never asked
    /// about and never answered does not count as F1 = 0. (0 when there are no items.)
    public let macroF1: Double
    /// One entry per label, in `labels` order (absent classes included, with zeros).
    public let perClass: [ClassMetrics]

    /// Builds the report for predictions `predicted[i]` of items whose true labels are `truth[i]`.
    /// `labels` are the known class names, duplicates ignored; labels outside them are appended.
    public init(labels: [String], truth: [String], predicted: [String]) {
        precondition(truth.count == predicted.count,
                     "ClassificationReport: \(truth.count) true labels but \(predicted.count) predictions")
        var names: [String] = []
        var index: [String: Int] = [:]
        for name in labels + truth + predicted where index[name] == nil {
            index[name] = names.count
            names.append(name)
        }
        let k = names.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (t, p) in zip(truth, predicted) {
            confusion[index[t]!][index[p]!] += 1
        }
        let truePositives = (0..<k).map { confusion[$0][$0] }
        let support = confusion.map { $0.reduce(0, +) }
        let predictedCount = (0..<k).map { p in confusion.reduce(0) { $0 + $1[p] } }
        self.labels = names
        self.confusion = confusion
        self.accuracy = truth.isEmpty ? 0 : Double(truePositives.reduce(0, +)) / Double(truth.count)
        self.macroF1 = GateStatistics.macroF1(truePositives: truePositives, support: support, predicted: predictedCount)
        self.perClass = (0..<k).map { i in
            let tp = truePositives[i], s = support[i], p = predictedCount[i]
            return ClassMetrics(label: names[i],
                                precision: p == 0 ? 0 : Double(tp) / Double(p),
                                recall: s == 0 ? 0 : Double(tp) / Double(s),
                                f1: s + p == 0 ? 0 : Double(2 * tp) / Double(s + p),
                                support: s, predictedCount: p)
        }
    }

    /// The metrics of `label`, or nil if it is not one of `labels`.
    public func metrics(for label: String) -> ClassMetrics? {
        perClass.first { $0.label == label }
    }

    /// The recall of `label`, or nil when it cannot be judged: the label is unknown, or it never
    /// occurs in truth (support 0). `perClass` reports 0 in the second case, as scikit-learn does
    /// with zero_division=0; here nil lets a gate tell "no evidence" from "always wrong".
    public func recall(of label: String) -> Double? {
        guard let m = metrics(for: label), m.support > 0 else { return nil }
        return m.recall
    }
}
