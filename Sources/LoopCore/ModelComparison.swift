import GateStatistics

/// Two adapters side by side on the items both were evaluated on (the evaluation pool and the
/// golden set) and on live traffic one shadowed while the other served, where agents labelled it.
/// "a" is the reference (usually production), "b" the challenger; deltas are b − a.
public struct ModelComparison: Sendable, Codable, Equatable {
    public struct Source: Sendable, Codable, Equatable {
        public let name: String
        public let n: Int
        public let accuracyA: Interval
        public let accuracyB: Interval
        public let macroF1A: Interval
        public let macroF1B: Interval
        /// Accuracy b − a with its paired bootstrap interval, and the exact McNemar test
        /// (candidate_only = b right where a was wrong).
        public let difference: Interval
        public let mcnemar: McNemarResult
        enum CodingKeys: String, CodingKey {
            case name, n, difference, mcnemar
            case accuracyA = "accuracy_a", accuracyB = "accuracy_b", macroF1A = "macro_f1_a", macroF1B = "macro_f1_b"
        }
    }
    public struct IntentDelta: Sendable, Codable, Equatable {
        public let intent: String
        public let support: Int
        public let f1A: Double
        public let f1B: Double
        public var delta: Double { f1B - f1A }
        enum CodingKeys: String, CodingKey { case intent, support, f1A = "f1_a", f1B = "f1_b" }
    }
    public struct ConfusionChange: Sendable, Codable, Equatable {
        public let label: String
        public let predicted: String
        public let countA: Int
        public let countB: Int
        enum CodingKeys: String, CodingKey { case label, predicted, countA = "count_a", countB = "count_b" }
    }

    public let a: String
    public let b: String
    /// "all" (every paired item), then "evaluation_pool", "golden", "shadow" where present.
    public let sources: [Source]
    /// Per-intent F1 on every paired item, sorted by change (most improved first).
    public let intents: [IntentDelta]
    /// Off-diagonal confusion cells whose count changed most.
    public let confusionChanges: [ConfusionChange]

    public init(a: String, b: String, evaluationPool: [PairedItem], golden: [PairedItem], shadow: [PairedItem],
                confidence: Double = 0.95, resamples: Int = 2000, seed: UInt64 = 1) {
        self.a = a
        self.b = b
        // PairedItem's candidate is b, its baseline a.
        let all = evaluationPool + golden + shadow
        sources = [("all", all), ("evaluation_pool", evaluationPool), ("golden", golden), ("shadow", shadow)]
            .filter { !$0.1.isEmpty || $0.0 == "all" }
            .map { Self.source($0.0, $0.1, confidence: confidence, resamples: resamples, seed: seed) }
        let labels = Set(all.map(\.label)).sorted()
        let ra = ClassificationReport(labels: labels, truth: all.map(\.label), predicted: all.map(\.baseline))
        let rb = ClassificationReport(labels: labels, truth: all.map(\.label), predicted: all.map(\.candidate))
        let fa = Dictionary(ra.perClass.map { ($0.label, $0) }, uniquingKeysWith: { x, _ in x })
        let fb = Dictionary(rb.perClass.map { ($0.label, $0) }, uniquingKeysWith: { x, _ in x })
        intents = labels.map { IntentDelta(intent: $0, support: fa[$0]?.support ?? 0, f1A: fa[$0]?.f1 ?? 0, f1B: fb[$0]?.f1 ?? 0) }
            .sorted { ($1.delta, $0.intent) < ($0.delta, $1.intent) }
        var cells: [String: [String: (Int, Int)]] = [:]
        for item in all {
            if item.baseline != item.label { cells[item.label, default: [:]][item.baseline, default: (0, 0)].0 += 1 }
            if item.candidate != item.label { cells[item.label, default: [:]][item.candidate, default: (0, 0)].1 += 1 }
        }
        var changes: [ConfusionChange] = []
        for (label, row) in cells {
            for (predicted, counts) in row where counts.0 != counts.1 {
                changes.append(ConfusionChange(label: label, predicted: predicted, countA: counts.0, countB: counts.1))
            }
        }
        changes.sort { x, y in
            let dx = abs(x.countB - x.countA), dy = abs(y.countB - y.countA)
            return dx != dy ? dx > dy : (x.label, x.predicted) < (y.label, y.predicted)
        }
        confusionChanges = Array(changes.prefix(15))
    }

    static func source(_ name: String, _ items: [PairedItem], confidence: Double, resamples: Int, seed: UInt64) -> Source {
        let labels = Set(items.map(\.label)).union(items.map(\.baseline)).union(items.map(\.candidate)).sorted()
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        let truth = items.map { index[$0.label]! }
        func f1(_ predicted: [Int]) -> Interval {
            PairedBootstrap.macroF1Interval(truth: truth, predicted: predicted, classes: labels.count, resamples: resamples, confidence: confidence, seed: seed)
        }
        let ca = items.map { $0.baseline == $0.label }, cb = items.map { $0.candidate == $0.label }
        return Source(
            name: name, n: items.count,
            accuracyA: Wilson.interval(successes: ca.filter { $0 }.count, trials: items.count, confidence: confidence),
            accuracyB: Wilson.interval(successes: cb.filter { $0 }.count, trials: items.count, confidence: confidence),
            macroF1A: f1(items.map { index[$0.baseline]! }), macroF1B: f1(items.map { index[$0.candidate]! }),
            difference: PairedBootstrap.accuracyDifference(candidate: cb, baseline: ca, resamples: resamples, confidence: confidence, seed: seed),
            mcnemar: McNemar.test(candidate: cb, baseline: ca))
    }
}

