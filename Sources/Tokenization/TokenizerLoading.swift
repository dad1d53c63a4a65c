import Foundation

extension BertTokenizer {
    /// Loads a tokenizer from a Hugging Face model directory: `vocab.txt`, the normaliser of
    /// `tokenizer.json` when present, overridden by `tokenizer_config.json`'s `do_lower_case`,
    /// `strip_accents` and `tokenize_chinese_chars` (as transformers' fast tokenizer does), and the
    /// special tokens of `special_tokens_map.json`. `maxLength` defaults to sentence-transformers'
    /// `max_seq_length` when the directory has one, else `model_max_length`, else 512.
    public init(directory: URL, maxLength: Int? = nil) throws(TokenizerError) {
        let vocab = try Vocabulary(contentsOf: directory.appendingPathComponent("vocab.txt"))
        var basic = BasicTokenizer()
        var configuredMax: Int?

        if let tj = try Self.jsonObject(directory.appendingPathComponent("tokenizer.json")),
           let normalizer = tj["normalizer"] as? [String: Any], normalizer["type"] as? String == "BertNormalizer" {
            basic.cleanText = normalizer["clean_text"] as? Bool ?? true
            basic.handleChineseChars = normalizer["handle_chinese_chars"] as? Bool ?? true
            basic.lowercase = normalizer["lowercase"] as? Bool ?? true
            basic.stripAccents = normalizer["strip_accents"] as? Bool
        }
        var specials = ["unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]"]
        if let config = try Self.jsonObject(directory.appendingPathComponent("tokenizer_config.json")) {
            if let lower = config["do_lower_case"] as? Bool { basic.lowercase = lower }
            if config.keys.contains("strip_accents") { basic.stripAccents = config["strip_accents"] as? Bool }
            if let cjk = config["tokenize_chinese_chars"] as? Bool { basic.handleChineseChars = cjk }
            if let m = config["model_max_length"] as? Int, m > 0, m < 1_000_000 { configuredMax = m }
            for key in specials.keys { if let v = Self.tokenString(config[key]) { specials[key] = v } }
        }
        if let map = try Self.jsonObject(directory.appendingPathComponent("special_tokens_map.json")) {
            for key in specials.keys { if let v = Self.tokenString(map[key]) { specials[key] = v } }
        }
        if let st = try Self.jsonObject(directory.appendingPathComponent("sentence_bert_config.json")),
           let m = st["max_seq_length"] as? Int, m > 0 {
            configuredMax = m
        }
        try self.init(
            vocabulary: vocab, basic: basic, maxLength: maxLength ?? configuredMax ?? 512,
            unknownToken: specials["unk_token"]!, clsToken: specials["cls_token"]!,
            sepToken: specials["sep_token"]!, padToken: specials["pad_token"]!
        )
    }

    /// A special token is a string or an AddedToken object {"content": …}.
    private static func tokenString(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        if let d = value as? [String: Any], let s = d["content"] as? String { return s }
        return nil
    }

    /// The file's top-level JSON object; nil when the file does not exist.
    static func jsonObject(_ url: URL) throws(TokenizerError) -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TokenizerError(file: url.path, problem: "cannot be read")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TokenizerError(file: url.path, problem: "is not a JSON object")
        }
        return object
    }
}
