import Foundation

/// A trained adapter: LoRA pairs + classification head + its labels, and how to pool.
/// On disk (PEFT's layout, loadable with `PeftModel.from_pretrained` on the base `AutoModel`):
///   adapter_config.json        PEFT LoraConfig keys, task_type FEATURE_EXTRACTION: the LoRA applies to the base
///                              `AutoModel`; the head is not a transformers classifier (see below)
///   adapter_model.safetensors  base_model.model.<module>.lora_A.weight [r, in] / lora_B.weight [out, r],
///                              base_model.model.intentloop_head.weight [K, C] / .bias [K]: the head reads the
///                              *mean-pooled* encoder states, so it is deliberately not named `classifier` — under
///                              that name `AutoModelForSequenceClassification` + PEFT would load it silently into
///                              BERT's [CLS]-pooler head and answer wrongly (2 of 200 right); now that class starts
///                              from a fresh head and transformers says so. Python: ops/python/intentloop_adapter.py.
///   labels.json                the intent of each head row, in order
///   intentloop.json            pooling (the head reads mean-pooled encoder states) and training facts
public struct Adapter: Sendable {
    public var parameters: AdapterParameters
    public var labels: [String]
    public var pooling: Pooling
    public var baseModelName: String
    /// Free-form facts about how it was trained (recipe, data sizes, metrics), kept in intentloop.json.
    public var info: [String: String]

    public init(parameters: AdapterParameters, labels: [String], pooling: Pooling = .mean,
                baseModelName: String = "sentence-transformers/all-MiniLM-L6-v2", info: [String: String] = [:]) {
        precondition(labels.count == parameters.classes, "one label per head row")
        self.parameters = parameters
        self.labels = labels
        self.pooling = pooling
        self.baseModelName = baseModelName
        self.info = info
    }

    static let prefix = "base_model.model."
    /// The head's tensor-name stem (see the type's comment for why it is not `classifier`).
    static let headName = "intentloop_head"

    /// PEFT `target_modules`: module-name suffixes, or full per-layer paths where a suffix would
    /// also match another module (BERT's FFN `output.dense` is a suffix of `attention.output.dense`).
    func peftTargetModules(_ names: TensorNames) -> [String] {
        var out: [String] = []
        for p in parameters.lora.targets {
            if names.architecture == .bert && p == .output {
                out += (0..<parameters.encoder.layers).map { names.module(.output, layer: $0) }
            } else {
                let full = names.module(p, layer: 0)
                let suffix = full.components(separatedBy: ".layer.0.").last!
                out.append(names.architecture == .bert && p != .attentionOutput ? String(suffix.split(separator: ".").last!) : suffix)
            }
        }
        return out
    }

    public func save(to directory: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let names = TensorNames(architecture: parameters.encoder.architecture, prefix: "")
        let p = parameters, r = p.lora.rank
        var tensors: [SafeTensorsWriter.Tensor] = []
        func values(_ offset: Int, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: p.pointer(offset), count: count)) }
        for s in p.slots {
            let module = Self.prefix + names.module(s.projection, layer: s.layer)
            tensors.append(.init(name: module + ".lora_A.weight", shape: [r, s.inFeatures], values: values(s.a, r * s.inFeatures)))
            tensors.append(.init(name: module + ".lora_B.weight", shape: [s.outFeatures, r], values: values(s.b, s.outFeatures * r)))
        }
        let c = p.encoder.hiddenSize
        tensors.append(.init(name: Self.prefix + Self.headName + ".weight", shape: [p.classes, c], values: values(p.headWeight, p.classes * c)))
        tensors.append(.init(name: Self.prefix + Self.headName + ".bias", shape: [p.classes], values: values(p.headBias, p.classes)))
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("adapter_model.safetensors"))

        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "FEATURE_EXTRACTION", "r": r, "lora_alpha": Double(p.lora.alpha),
            "lora_dropout": Double(p.lora.dropout), "target_modules": peftTargetModules(names),
            "base_model_name_or_path": baseModelName, "bias": "none",
            "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true,
            "use_rslora": false, "use_dora": false, "rank_pattern": [String: Any](), "alpha_pattern": [String: Any](),
        ]
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            .write(to: directory.appendingPathComponent("adapter_config.json"), options: .atomic)
        try JSONSerialization.data(withJSONObject: labels, options: [.prettyPrinted])
            .write(to: directory.appendingPathComponent("labels.json"), options: .atomic)
        let meta: [String: Any] = ["pooling": pooling.rawValue, "architecture": p.encoder.architecture.rawValue, "info": info]
        try JSONSerialization.data(withJSONObject: meta, options: [.prettyPrinted, .sortedKeys])
            .write(to: directory.appendingPathComponent("intentloop.json"), options: .atomic)
    }

    /// Loads an adapter saved here or by PEFT (module names with or without the `bert.` /
    /// `distilbert.` prefix of a task model), for an encoder of the given shape.
    public static func load(from directory: URL, encoder: EncoderConfig) throws(ModelError) -> Adapter {
        let configURL = directory.appendingPathComponent("adapter_config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path),
              let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError(file: configURL.path, problem: "missing or not a JSON object")
        }
        guard (config["peft_type"] as? String)?.uppercased() == "LORA" else {
            throw ModelError(file: configURL.path, problem: "peft_type is not LORA")
        }
        guard let r = config["r"] as? Int, r > 0 else { throw ModelError(file: configURL.path, problem: "missing or invalid 'r'") }
        let alpha = Float(config["lora_alpha"] as? Double ?? Double(r))
        let dropout = Float(config["lora_dropout"] as? Double ?? 0)
        let labelsURL = directory.appendingPathComponent("labels.json")
        guard let labelData = FileManager.default.contents(atPath: labelsURL.path),
              let labels = try? JSONSerialization.jsonObject(with: labelData) as? [String], !labels.isEmpty else {
            throw ModelError(file: labelsURL.path, problem: "missing, or not a non-empty JSON array of intent names")
        }
        guard Set(labels).count == labels.count else { throw ModelError(file: labelsURL.path, problem: "duplicate intent names") }
        var pooling = Pooling.mean
        var info: [String: String] = [:]
        let metaURL = directory.appendingPathComponent("intentloop.json")
        if let metaData = FileManager.default.contents(atPath: metaURL.path),
           let meta = try? JSONSerialization.jsonObject(with: metaData) as? [String: Any] {
            if let raw = meta["pooling"] as? String {
                guard let p = Pooling(rawValue: raw) else { throw ModelError(file: metaURL.path, problem: "unknown pooling '\(raw)'") }
                pooling = p
            }
            info = meta["info"] as? [String: String] ?? [:]
        }
        let file = try SafeTensorsFile(url: directory.appendingPathComponent("adapter_model.safetensors"))
        // Which projections carry LoRA pairs: read them off the tensor names.
        var keys: [String: String] = [:]  // module path without prefixes -> full tensor-name stem
        for name in file.tensors.keys where name.hasSuffix(".lora_A.weight") {
            var stem = String(name.dropLast(".lora_A.weight".count))
            let full = stem
            if stem.hasPrefix(prefix) { stem.removeFirst(prefix.count) }
            for taskPrefix in ["bert.", "distilbert."] where stem.hasPrefix(taskPrefix) { stem.removeFirst(taskPrefix.count) }
            keys[stem.replacingOccurrences(of: ".default", with: "")] = full
        }
        let names = TensorNames(architecture: encoder.architecture, prefix: "")
        let targets = TensorNames.Projection.allCases.filter { keys[names.module($0, layer: 0)] != nil }
        guard !targets.isEmpty else {
            throw ModelError(file: file.path, problem: "no LoRA tensors for a \(encoder.architecture.rawValue) encoder")
        }
        let params = AdapterParameters(lora: LoRAConfig(rank: r, alpha: alpha, dropout: dropout, targets: targets), encoder: encoder, classes: labels.count)
        func put(_ name: String, _ shape: [Int], _ offset: Int) throws(ModelError) {
            let v = try file.floats(name, shape: shape)
            v.withUnsafeBufferPointer { params.pointer(offset).update(from: $0.baseAddress!, count: v.count) }
        }
        for s in params.slots {
            guard let stem = keys[names.module(s.projection, layer: s.layer)] else {
                throw ModelError(file: file.path, problem: "no LoRA pair for \(names.module(s.projection, layer: s.layer))")
            }
            try put(stem + ".lora_A.weight", [r, s.inFeatures], s.a)
            guard file.tensors[stem + ".lora_B.weight"] != nil else { throw ModelError(file: file.path, problem: "missing tensor '\(stem).lora_B.weight'") }
            try put(stem + ".lora_B.weight", [s.outFeatures, r], s.b)
        }
        // Ours, or a PEFT-trained sequence classifier's (older IntentLoop adapters too).
        let headStem = [headName, "classifier.modules_to_save.default", "classifier"].map { prefix + $0 }
            .first { file.tensors[$0 + ".weight"] != nil }
        guard let headStem else { throw ModelError(file: file.path, problem: "no classification head (base_model.model.\(headName).weight)") }
        let headShape = file.tensors[headStem + ".weight"]!.shape
        guard headShape == [labels.count, encoder.hiddenSize] else {
            throw ModelError(file: file.path, problem: "classifier has shape \(headShape) but labels.json names \(labels.count) intents for hidden size \(encoder.hiddenSize)")
        }
        try put(headStem + ".weight", [labels.count, encoder.hiddenSize], params.headWeight)
        try put(headStem + ".bias", [labels.count], params.headBias)
        return Adapter(parameters: params, labels: labels, pooling: pooling,
                       baseModelName: config["base_model_name_or_path"] as? String ?? "", info: info)
    }
}
