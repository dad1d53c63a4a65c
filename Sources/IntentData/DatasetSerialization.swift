import Foundation

extension DatasetFile {
    /// The formats a dataset travels in over HTTP (and `intentloop import`/export).
    public enum Format: String, Sendable, CaseIterable { case jsonl, csv }

    /// Parses a whole JSONL or CSV document: every example or an error naming the first bad line.
    public static func parse(_ data: Data, format: Format, name: String) throws(DatasetError) -> [LabelledExample] {
        guard String(validating: data, as: UTF8.self) != nil else { throw DatasetError(file: name, problem: "not UTF-8 text") }
        let examples = switch format {
        case .jsonl: try jsonLines(data, file: name)
        case .csv: try csv(data, file: name)
        }
        guard !examples.isEmpty else { throw DatasetError(file: name, problem: "dataset is empty") }
        return examples
    }

    /// JSONL ({"intent","text"} a line) or CSV with a `text,intent` header, readable by `parse`.
    public static func serialize(_ examples: [LabelledExample], format: Format) -> String {
        switch format {
        case .jsonl:
            return examples.map { e in
                let data = (try? JSONSerialization.data(withJSONObject: ["text": e.text, "intent": e.intent], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
                return String(decoding: data, as: UTF8.self) + "\n"
            }.joined()
        case .csv:
            func field(_ s: String) -> String {
                s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
            }
            return "text,intent\n" + examples.map { "\(field($0.text)),\(field($0.intent))\n" }.joined()
        }
    }
}
