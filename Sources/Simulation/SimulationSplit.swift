import GateStatistics
import IntentData

/// How `intentloop simulate` cuts a labelled dataset: per intent, K examples to bootstrap the
/// first adapter and G for the golden regression set (never trained on), the rest shuffled into
/// the traffic pool the simulated clients send, in order. The test set is separate and never sent.
/// A seed fixes every choice.
public struct SimulationSplit: Sendable, Equatable {
    public var intents: [String]
    public var bootstrap: [LabelledExample]
    public var golden: [LabelledExample]
    public var pool: [LabelledExample]

    public init(intents: [String], bootstrap: [LabelledExample], golden: [LabelledExample], pool: [LabelledExample]) {
        self.intents = intents
        self.bootstrap = bootstrap
        self.golden = golden
        self.pool = pool
    }

    /// `intentLimit` keeps that many intents (chosen with the seed) — for short runs.
    public static func make(_ data: [LabelledExample], bootstrapPerIntent: Int, goldenPerIntent: Int, intentLimit: Int? = nil,
                            seed: UInt64) -> SimulationSplit {
        precondition(bootstrapPerIntent >= 1 && goldenPerIntent >= 0, "at least one bootstrap example per intent")
        var rng = SplitMix64(seed: seed ^ 0x5EED_5711)
        let byIntent = Dictionary(grouping: data, by: \.intent)
        var intents = byIntent.keys.sorted()
        if let intentLimit, intentLimit < intents.count {
            rng.shuffle(&intents)
            intents = Array(intents.prefix(intentLimit)).sorted()
        }
        var split = SimulationSplit(intents: intents, bootstrap: [], golden: [], pool: [])
        for intent in intents {
            var examples = byIntent[intent] ?? []
            rng.shuffle(&examples)
            let k = min(bootstrapPerIntent, examples.count)
            let g = min(goldenPerIntent, examples.count - k)
            split.bootstrap += examples[..<k]
            split.golden += examples[k..<(k + g)]
            split.pool += examples[(k + g)...]
        }
        rng.shuffle(&split.pool)
        return split
    }

    /// The examples of `data` whose intent is one of this split's (the test set of a short run).
    public func restricted(_ data: [LabelledExample]) -> [LabelledExample] {
        let known = Set(intents)
        return data.filter { known.contains($0.intent) }
    }

    /// The traffic of week `week` (1-based): the next `perWeek` utterances of the pool, wrapping
    /// around when the pool runs out (a small pool is then sent again, as real traffic repeats).
    public func traffic(week: Int, perWeek: Int) -> [LabelledExample] {
        guard !pool.isEmpty, perWeek > 0 else { return [] }
        let start = (week - 1) * perWeek
        return (start..<(start + perWeek)).map { pool[$0 % pool.count] }
    }
}
