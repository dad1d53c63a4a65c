import Foundation

/// LoRA hyper-parameters (PEFT's meaning): each targeted projection W [out, in] gains
/// s · B · A with A [r, in], B [out, r], s = α / r, and dropout on A's input while training.
public struct LoRAConfig: Sendable, Equatable {
    public var rank: Int
    public var alpha: Float
    public var dropout: Float
    /// Targeted projections, in `TensorNames.Projection.allCases` order.
    public var targets: [TensorNames.Projection]

    public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0.05, targets: [TensorNames.Projection] = [.query, .value]) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = TensorNames.Projection.allCases.filter(targets.contains)
    }

    public var scaling: Float { alpha / Float(rank) }

    /// Parses target names: ours (`query`, `key`, `value`, `attention.output`, `intermediate`,
    /// `output`) or PEFT's BERT/DistilBERT module names (`q_lin`, `attention.output.dense`, `lin1`…).
    public static func parseTargets(_ names: [String]) throws(ModelError) -> [TensorNames.Projection] {
        var out: [TensorNames.Projection] = []
        for raw in names {
            let name = raw.trimmingCharacters(in: .whitespaces)
            guard let p = TensorNames.Projection(userName: name) else {
                throw ModelError(file: "--targets", problem: "unknown LoRA target '\(name)' (use query, key, value, attention.output, intermediate, output)")
            }
            if !out.contains(p) { out.append(p) }
        }
        guard !out.isEmpty else { throw ModelError(file: "--targets", problem: "no LoRA target given") }
        return TensorNames.Projection.allCases.filter(out.contains)
    }
}

extension TensorNames.Projection {
    init?(userName: String) {
        switch userName {
        case "query", "q_lin", "q": self = .query
        case "key", "k_lin", "k": self = .key
        case "value", "v_lin", "v": self = .value
        case "attention.output", "attention.output.dense", "out_lin", "attention_output", "attentionOutput": self = .attentionOutput
        case "intermediate", "intermediate.dense", "lin1", "ffn.lin1": self = .intermediate
        case "output", "output.dense", "lin2", "ffn.lin2": self = .output
        default: return nil
        }
    }

    /// The name users and `--targets` see.
    public var userName: String {
        switch self {
        case .query: "query"
        case .key: "key"
        case .value: "value"
        case .attentionOutput: "attention.output"
        case .intermediate: "intermediate"
        case .output: "output"
        }
    }

    /// (in, out) features of this projection in a model of the given shape.
    public func shape(_ config: EncoderConfig) -> (inFeatures: Int, outFeatures: Int) {
        switch self {
        case .query, .key, .value, .attentionOutput: (config.hiddenSize, config.hiddenSize)
        case .intermediate: (config.hiddenSize, config.intermediateSize)
        case .output: (config.intermediateSize, config.hiddenSize)
        }
    }
}
