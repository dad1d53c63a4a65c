/// Tensor names of the two checkpoint families, with or without the task-model prefix
/// (`bert.` / `distilbert.`) that `…ForSequenceClassification` checkpoints carry.
public struct TensorNames: Sendable {
    /// The projections of one encoder layer, in this project's vocabulary.
    public enum Projection: String, Sendable, CaseIterable {
        case query, key, value, attentionOutput, intermediate, output
    }

    public let architecture: EncoderConfig.Architecture
    public let prefix: String

    public init(architecture: EncoderConfig.Architecture, prefix: String) {
        self.architecture = architecture
        self.prefix = prefix
    }

    /// Finds the prefix under which this file stores the word embeddings.
    public static func detect(_ architecture: EncoderConfig.Architecture, in names: some Collection<String>) -> TensorNames? {
        let candidates = architecture == .bert ? ["", "bert."] : ["", "distilbert."]
        for p in candidates where names.contains(p + "embeddings.word_embeddings.weight") {
            return TensorNames(architecture: architecture, prefix: p)
        }
        return nil
    }

    public var wordEmbeddings: String { prefix + "embeddings.word_embeddings.weight" }
    public var positionEmbeddings: String { prefix + "embeddings.position_embeddings.weight" }
    public var tokenTypeEmbeddings: String { prefix + "embeddings.token_type_embeddings.weight" }
    public var embeddingNorm: String { prefix + "embeddings.LayerNorm" }

    /// The module path of a layer's projection (append ".weight" / ".bias").
    public func module(_ p: Projection, layer: Int) -> String {
        switch architecture {
        case .bert:
            let l = prefix + "encoder.layer.\(layer)."
            switch p {
            case .query: return l + "attention.self.query"
            case .key: return l + "attention.self.key"
            case .value: return l + "attention.self.value"
            case .attentionOutput: return l + "attention.output.dense"
            case .intermediate: return l + "intermediate.dense"
            case .output: return l + "output.dense"
            }
        case .distilbert:
            let l = prefix + "transformer.layer.\(layer)."
            switch p {
            case .query: return l + "attention.q_lin"
            case .key: return l + "attention.k_lin"
            case .value: return l + "attention.v_lin"
            case .attentionOutput: return l + "attention.out_lin"
            case .intermediate: return l + "ffn.lin1"
            case .output: return l + "ffn.lin2"
            }
        }
    }

    /// The layer norm after attention, and the one after the feed-forward block.
    public func attentionNorm(layer: Int) -> String {
        architecture == .bert ? prefix + "encoder.layer.\(layer).attention.output.LayerNorm"
            : prefix + "transformer.layer.\(layer).sa_layer_norm"
    }

    public func outputNorm(layer: Int) -> String {
        architecture == .bert ? prefix + "encoder.layer.\(layer).output.LayerNorm"
            : prefix + "transformer.layer.\(layer).output_layer_norm"
    }
}
