import Foundation

/// The shape of a BERT-family encoder, read from a Hugging Face `config.json`.
public struct EncoderConfig: Sendable, Equatable {
    public enum Architecture: String, Sendable { case bert, distilbert }

    public var architecture: Architecture
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    /// 0 for models without token-type embeddings (DistilBERT).
    public var typeVocabSize: Int
    public var layerNormEps: Float
    /// Dropout the model was pre-trained with, which transformers applies in train mode: on the
    /// embeddings and on both residual branches of every layer (BERT `hidden_dropout_prob`,
    /// DistilBERT `dropout`), and on the attention probabilities (`attention_probs_dropout_prob`,
    /// `attention_dropout`). Used only when training.
    public var hiddenDropout: Float
    public var attentionDropout: Float

    public init(
        architecture: Architecture, vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int,
        intermediateSize: Int, maxPositions: Int, typeVocabSize: Int, layerNormEps: Float,
        hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1
    ) {
        self.architecture = architecture
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
    }

    public static func load(_ url: URL) throws(ModelError) -> EncoderConfig {
        let path = url.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(file: path, problem: "missing or unreadable")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError(file: path, problem: "not a JSON object")
        }
        return try parse(json, path: path)
    }

    static func parse(_ json: [String: Any], path: String) throws(ModelError) -> EncoderConfig {
        var type = json["model_type"] as? String
        if type == nil, let arch = (json["architectures"] as? [String])?.first {
            type = arch.hasPrefix("DistilBert") ? "distilbert" : arch.hasPrefix("Bert") ? "bert" : arch
        }
        func int(_ key: String) throws(ModelError) -> Int {
            guard let v = json[key] as? Int, v > 0 else {
                throw ModelError(file: path, problem: "missing or invalid '\(key)'")
            }
            return v
        }
        func probability(_ key: String) throws(ModelError) -> Float {
            guard let v = json[key] else { return 0.1 }
            guard let p = (v as? Double).map(Float.init) ?? (v as? Int).map(Float.init), p >= 0, p < 1 else {
                throw ModelError(file: path, problem: "invalid '\(key)' (a probability in [0, 1))")
            }
            return p
        }
        func activation(_ key: String) throws(ModelError) {
            let act = json[key] as? String ?? "gelu"
            guard act == "gelu" else {
                throw ModelError(file: path, problem: "unsupported activation '\(act)' (supported: gelu)")
            }
        }
        let config: EncoderConfig
        switch type {
        case "bert":
            try activation("hidden_act")
            if let kind = json["position_embedding_type"] as? String, kind != "absolute" {
                throw ModelError(file: path, problem: "unsupported position_embedding_type '\(kind)' (supported: absolute)")
            }
            config = EncoderConfig(
                architecture: .bert, vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
                layers: try int("num_hidden_layers"), heads: try int("num_attention_heads"),
                intermediateSize: try int("intermediate_size"), maxPositions: try int("max_position_embeddings"),
                typeVocabSize: json["type_vocab_size"] as? Int ?? 2,
                layerNormEps: Float(json["layer_norm_eps"] as? Double ?? 1e-12),
                hiddenDropout: try probability("hidden_dropout_prob"), attentionDropout: try probability("attention_probs_dropout_prob")
            )
        case "distilbert":
            try activation("activation")
            config = EncoderConfig(
                architecture: .distilbert, vocabSize: try int("vocab_size"), hiddenSize: try int("dim"),
                layers: try int("n_layers"), heads: try int("n_heads"), intermediateSize: try int("hidden_dim"),
                maxPositions: try int("max_position_embeddings"), typeVocabSize: 0, layerNormEps: 1e-12,
                hiddenDropout: try probability("dropout"), attentionDropout: try probability("attention_dropout")
            )
        case let other?:
            throw ModelError(file: path, problem: "unknown architecture '\(other)' (supported: bert, distilbert)")
        case nil:
            throw ModelError(file: path, problem: "no 'model_type' or 'architectures' entry")
        }
        guard config.hiddenSize % config.heads == 0 else {
            throw ModelError(file: path, problem: "hidden size \(config.hiddenSize) is not divisible by \(config.heads) heads")
        }
        return config
    }
}
