import Foundation
import Tokenization

/// A base model directory in Hugging Face layout: `config.json`, `model.safetensors`,
/// `vocab.txt` (+ optional tokenizer and sentence-transformers files).
public struct BaseModel: Sendable {
    public let directory: URL
    public let tokenizer: BertTokenizer
    public let encoder: Encoder
    /// From sentence-transformers' `1_Pooling/config.json` when present, else mean.
    public let defaultPooling: Pooling

    public static func load(_ directory: URL) throws(ModelError) -> BaseModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError(file: directory.path, problem: "model directory not found (run ops/setup to fetch the default base model)")
        }
        let config = try EncoderConfig.load(directory.appendingPathComponent("config.json"))
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw ModelError(file: weightsURL.path, problem: "missing (only safetensors weights are supported)")
        }
        let weights = try EncoderWeights.load(config: config, file: try SafeTensorsFile(url: weightsURL))
        var tokenizer: BertTokenizer
        do { tokenizer = try BertTokenizer(directory: directory) } catch {
            throw ModelError(file: error.file, problem: error.problem)
        }
        tokenizer.maxLength = min(tokenizer.maxLength, config.maxPositions)
        guard tokenizer.vocabulary.count <= config.vocabSize else {
            throw ModelError(file: directory.appendingPathComponent("vocab.txt").path,
                             problem: "\(tokenizer.vocabulary.count) tokens but the model has \(config.vocabSize) embeddings")
        }
        return BaseModel(directory: directory, tokenizer: tokenizer, encoder: Encoder(weights: weights),
                         defaultPooling: readPooling(directory))
    }

    /// The same model with its encoder at `precision` (int8 quantizes the projections once, here).
    public func at(_ precision: Precision) -> BaseModel {
        guard precision.effective != encoder.precision else { return self }
        return BaseModel(directory: directory, tokenizer: tokenizer, encoder: Encoder(weights: encoder.weights, precision: precision),
                         defaultPooling: defaultPooling)
    }

    private static func readPooling(_ directory: URL) -> Pooling {
        let url = directory.appendingPathComponent("1_Pooling/config.json")
        guard let data = FileManager.default.contents(atPath: url.path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return .mean }
        return json["pooling_mode_cls_token"] as? Bool == true ? .cls : .mean
    }

    /// Sentence vectors of `texts`, in order, computed `batchSize` texts at a time.
    public func embed(
        _ texts: [String], pooling: Pooling? = nil, normalize: Bool = false, batchSize: Int = 32,
        workspace: EncoderWorkspace = EncoderWorkspace()
    ) -> [[Float]] {
        precondition(batchSize > 0, "batch size must be positive")
        let c = encoder.config.hiddenSize
        var result: [[Float]] = []
        result.reserveCapacity(texts.count)
        var start = 0
        while start < texts.count {
            let chunk = Array(texts[start..<min(start + batchSize, texts.count)])
            let flat = encoder.embed(tokenizer.encodeBatch(chunk), pooling: pooling ?? defaultPooling,
                                     normalize: normalize, workspace: workspace)
            for i in 0..<chunk.count { result.append(Array(flat[i * c..<(i + 1) * c])) }
            start += chunk.count
        }
        return result
    }
}

/// Where the project keeps downloaded models and tools: `$INTENTLOOP_HOME`, by default
/// `~/.cache/intentloop`. `ops/setup` fetches the default base model into `models/`.
public enum ModelCache {
    public static var home: URL {
        if let h = ProcessInfo.processInfo.environment["INTENTLOOP_HOME"], !h.isEmpty { return URL(fileURLWithPath: h) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/intentloop")
    }

    public static let defaultModelName = "all-MiniLM-L6-v2"

    /// `$INTENTLOOP_MODEL_DIR`, else `<home>/models/all-MiniLM-L6-v2`.
    public static var defaultBaseModel: URL {
        if let d = ProcessInfo.processInfo.environment["INTENTLOOP_MODEL_DIR"], !d.isEmpty { return URL(fileURLWithPath: d) }
        return home.appendingPathComponent("models").appendingPathComponent(defaultModelName)
    }
}
