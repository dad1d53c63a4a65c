import IntentModel

/// The training recipe. Defaults are the measured best (ops/bench/results/train.md).
public struct TrainingOptions: Sendable {
    /// All six projections: the benchmarks' choice (ops/bench/results/train.md), about a point
    /// above query + value on an unseen intent dataset.
    public var lora = LoRAConfig(targets: TensorNames.Projection.allCases)
    public var epochs = 3
    public var learningRate: Float = 2e-3
    public var batchSize = 32
    public var weightDecay: Float = 0.01
    /// Fraction of the steps spent warming the learning rate up linearly from 0; then linear decay to 0.
    public var warmupFraction: Float = 0.05
    /// Clip the global gradient norm to this (0 disables).
    public var maxGradNorm: Float = 1.0
    public var seed: UInt64 = 42
    public var labelSmoothing: Float = 0.1
    /// Train with the encoder's own dropout (its config.json rates, as transformers does in train
    /// mode) besides the LoRA dropout.
    public var encoderDropout = true
    /// Weight classes by inverse frequency in the cross-entropy.
    public var balanceClasses = false
    /// Weight of the cross-entropy term (0 = DPO only).
    public var ceWeight: Float = 1
    /// λ: weight of the DPO term on preference pairs (0.5 with β 1: ops/bench/results/dpo_sweep.md).
    public var dpoWeight: Float = 0.5
    /// β of the DPO loss.
    public var dpoBeta: Float = 1
    /// Fit the head on frozen embeddings before joint training (LP-FT).
    public var linearProbe = true
    public var probeEpochs = 40
    public var probeLearningRate: Float = 5e-3
    /// Early stopping: epochs without validation improvement before stopping (needs a validation set).
    public var patience = 2
    /// Data-parallel training workers, each running single-threaded BLAS (set by the process).
    public var threads = 2
    /// Training threads in the background: nice value at least this, and SCHED_IDLE on Linux (0:
    /// unchanged). A job beside the server uses 10 (see `lowerThreadPriority`).
    public var niceness: Int32 = 0
    public var pooling = Pooling.mean

    public init() {}
}

/// Progress of a running training job, reported after every step.
public struct TrainingProgress: Sendable {
    public var phase: String
    public var epoch: Int
    public var epochs: Int
    public var step: Int
    public var totalSteps: Int
    public var examplesPerSecond: Double
    public var loss: Float
    public var secondsRemaining: Double
}

/// Training stopped: bad input, or a numerical failure after which the last good state is kept.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// The adapter as it was at the last finished epoch, when training had started.
    public let lastGood: Adapter?
    /// Training stopped because `shouldStop` asked it to (not a failure of the data or the numbers).
    public let stopped: Bool
    public init(_ message: String, lastGood: Adapter? = nil, stopped: Bool = false) {
        self.message = message
        self.lastGood = lastGood
        self.stopped = stopped
    }
    public var description: String { message }
}

/// One preference: for `text`, `chosen` is the right intent and `rejected` the wrong prediction.
public struct PreferencePair: Sendable, Hashable, Codable {
    public var text: String
    public var chosen: String
    public var rejected: String
    public init(text: String, chosen: String, rejected: String) {
        self.text = text
        self.chosen = chosen
        self.rejected = rejected
    }
}
