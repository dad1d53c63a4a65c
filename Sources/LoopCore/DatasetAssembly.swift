import Crypto
import Foundation
import IntentData

/// What the database holds when a training job starts, as plain values.
public struct DatasetSnapshot: Sendable {
    public struct Feedback: Sendable, Equatable {
        public var id: Int64
        public var text: String
        /// "confirm", "correct" or "submit".
        public var verdict: String
        public var intent: String
        /// What the production model predicted (nil for free-form submissions).
        public var predictedIntent: String?
        /// The verdict came from an admin (it outranks agents on the same utterance).
        public var byAdmin: Bool
        public init(id: Int64, text: String, verdict: String, intent: String, predictedIntent: String?, byAdmin: Bool) {
            self.id = id
            self.text = text
            self.verdict = verdict
            self.intent = intent
            self.predictedIntent = predictedIntent
            self.byAdmin = byAdmin
        }
    }

    /// Imported training examples and the golden set.
    public var training: [LabelledExample]
    public var golden: [LabelledExample]
    /// Every verdict, in any order (the id orders them).
    public var feedback: [Feedback]
    /// Each intent's status: "active", "proposed", "rejected" or "retired".
    public var intentStatus: [String: String]

    public init(training: [LabelledExample], golden: [LabelledExample], feedback: [Feedback], intentStatus: [String: String]) {
        self.training = training
        self.golden = golden
        self.feedback = feedback
        self.intentStatus = intentStatus
    }
}

/// The data of one training run.
public struct AssembledDataset: Sendable {
    public struct Pair: Sendable, Hashable, Comparable {
        public var text: String, chosen: String, rejected: String
        public init(text: String, chosen: String, rejected: String) {
            self.text = text
            self.chosen = chosen
            self.rejected = rejected
        }
        public static func < (a: Pair, b: Pair) -> Bool { (a.text, a.chosen, a.rejected) < (b.text, b.chosen, b.rejected) }
    }

    /// The head's intents, sorted: active intents with at least one training example.
    public var labels: [String]
    /// Imported examples + resolved feedback outside the evaluation pool (SFT), sorted.
    public var training: [LabelledExample]
    /// Corrections as preferences: chosen = the resolved intent, rejected = the model's prediction.
    public var pairs: [Pair]
    /// Resolved feedback whose utterance hashes into the permanent evaluation pool (never trained on).
    public var evaluation: [LabelledExample]
    /// The golden set (never trained on), restricted to intents in `labels`.
    public var golden: [LabelledExample]
    /// Counts of what went where and why (stored with the adapter).
    public var summary: [String: Int]
    /// The lowest and highest feedback id this dataset used (nil without feedback).
    public var feedbackRange: ClosedRange<Int64>?
    /// SHA-256 (hex) of the labels, training examples, pairs and evaluation pool.
    public var sha256: String
}

/// Turns a database snapshot into a training run's data, deterministically (same snapshot, same
/// dataset, same hash, whatever order the rows came in).
///
/// - Utterances are compared case- and space-insensitively (the tokenizer is uncased).
/// - Conflicting verdicts on one utterance resolve to the latest admin's verdict, else the
///   majority, else the latest.
/// - An utterance whose SHA-256 falls in the first `evaluationPercent` of 100 buckets belongs
///   to the evaluation pool for ever: every verdict on it, in every run, is evaluated on, never
///   trained on (hashing the utterance, not the verdict, keeps repeats on one side).
/// - Golden utterances are never trained on, whether imported as training or reviewed.
/// - A verdict naming a proposed intent waits for the admin's decision; one naming a rejected or
///   retired intent is dropped, as are imported examples of such intents.
/// - Feedback outranks an imported example of the same utterance.
/// - Every run trains a fresh adapter on all of it: imported data is replayed in full, so
///   intents without new feedback are not forgotten.
public enum DatasetAssembly {
    public static func assemble(_ snapshot: DatasetSnapshot, evaluationPercent: Int = 20) -> AssembledDataset {
        var summary: [String: Int] = [:]
        func count(_ key: String, _ n: Int = 1) { summary[key, default: 0] += n }
        func active(_ intent: String) -> Bool { snapshot.intentStatus[intent] == "active" }
        let goldenKeys = Set(snapshot.golden.map { key($0.text) })

        // 1. One resolved verdict per utterance.
        var groups: [String: [DatasetSnapshot.Feedback]] = [:]
        for f in snapshot.feedback { groups[key(f.text), default: []].append(f) }
        var resolved: [String: (text: String, intent: String, items: [DatasetSnapshot.Feedback])] = [:]
        var range: ClosedRange<Int64>?
        for (k, items) in groups {
            let ordered = items.sorted { $0.id < $1.id }
            if Set(ordered.map(\.intent)).count > 1 { count("feedback_conflicts_resolved") }
            let intent = resolve(ordered)
            switch snapshot.intentStatus[intent] {
            case "active":
                break
            case "proposed":
                count("feedback_waiting_for_proposed_intent", ordered.count)
                continue
            default:
                count("feedback_dropped_inactive_intent", ordered.count)
                continue
            }
            if goldenKeys.contains(k) {
                count("feedback_on_golden_utterances", ordered.count)
                continue
            }
            resolved[k] = (ordered.last!.text, intent, ordered)
            for f in ordered { range = range.map { min($0.lowerBound, f.id)...max($0.upperBound, f.id) } ?? f.id...f.id }
        }

        // 2. Split feedback between the evaluation pool and training.
        var training = Set<LabelledExample>(), evaluation = Set<LabelledExample>(), pairs = Set<AssembledDataset.Pair>()
        var evaluationKeys = Set<String>()
        for (k, r) in resolved {
            if inEvaluationPool(k, percent: evaluationPercent) {
                evaluationKeys.insert(k)
                evaluation.insert(LabelledExample(text: r.text, intent: r.intent))
                count("feedback_evaluation_pool", r.items.count)
                continue
            }
            training.insert(LabelledExample(text: r.text, intent: r.intent))
            count("feedback_trained", r.items.count)
            for f in r.items where f.verdict == "correct" {
                guard let predicted = f.predictedIntent, predicted != r.intent, active(predicted) else { continue }
                pairs.insert(.init(text: r.text, chosen: r.intent, rejected: predicted))
            }
        }

        // 3. Imported examples: not golden, not in the pool, not overruled by feedback, intent active.
        for e in snapshot.training {
            let k = key(e.text)
            if goldenKeys.contains(k) { count("imported_skipped_golden"); continue }
            if evaluationKeys.contains(k) { count("imported_skipped_evaluation_pool"); continue }
            if let r = resolved[k], r.intent != e.intent { count("imported_overruled_by_feedback"); continue }
            guard active(e.intent) else { count("imported_dropped_inactive_intent"); continue }
            if training.insert(e).inserted { count("imported_trained") }
        }

        let labels = Set(training.map(\.intent)).sorted()
        let labelSet = Set(labels)
        let pairList = pairs.filter { labelSet.contains($0.rejected) }.sorted()
        let evaluationList = evaluation.filter { labelSet.contains($0.intent) }.sorted(by: order)
        let goldenList = Set(snapshot.golden).filter { labelSet.contains($0.intent) }.sorted(by: order)
        count("evaluation_unknown_intent", evaluation.count - evaluationList.count)
        count("golden_unknown_intent", Set(snapshot.golden).count - goldenList.count)
        let trainingList = training.sorted(by: order)
        summary["training_examples"] = trainingList.count
        summary["preference_pairs"] = pairList.count
        summary["evaluation_examples"] = evaluationList.count
        summary["golden_examples"] = goldenList.count
        summary["intents"] = labels.count
        summary["feedback_total"] = snapshot.feedback.count

        var hasher = SHA256()
        func feed(_ s: String) { hasher.update(data: Data((s + "\u{1F}").utf8)) }
        for l in labels { feed("label"); feed(l) }
        for e in trainingList { feed("train"); feed(e.text); feed(e.intent) }
        for p in pairList { feed("pair"); feed(p.text); feed(p.chosen); feed(p.rejected) }
        for e in evaluationList { feed("eval"); feed(e.text); feed(e.intent) }
        let digest = hasher.finalize().hex
        return AssembledDataset(labels: labels, training: trainingList, pairs: pairList, evaluation: evaluationList, golden: goldenList,
                                summary: summary, feedbackRange: range, sha256: digest)
    }

    /// The latest admin's verdict, else the majority, else (a tie) the latest.
    static func resolve(_ ordered: [DatasetSnapshot.Feedback]) -> String {
        if let admin = ordered.last(where: \.byAdmin) { return admin.intent }
        var votes: [String: (count: Int, last: Int64)] = [:]
        for f in ordered { votes[f.intent] = ((votes[f.intent]?.count ?? 0) + 1, f.id) }
        return votes.max { a, b in (a.value.count, a.value.last) < (b.value.count, b.value.last) }!.key
    }

    /// Case- and space-insensitive identity of an utterance.
    public static func key(_ text: String) -> String {
        text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    public static func inEvaluationPool(_ key: String, percent: Int) -> Bool {
        let digest = Array(SHA256.hash(data: Data(key.utf8)))
        let bucket = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % 100
        return bucket < UInt64(max(0, min(100, percent)))
    }

    static func order(_ a: LabelledExample, _ b: LabelledExample) -> Bool { (a.text, a.intent) < (b.text, b.intent) }
}

/// Where an unresolved key function is needed outside the enum.
func key(_ text: String) -> String { DatasetAssembly.key(text) }
