import CSV
import Foundation

/// Reads labelled datasets (DESIGN.md §5):
/// - JSONL: one object a line with "text" and "intent" (or "label"/"category");
/// - CSV: a header row naming a "text" column and an "intent", "label" or "category" column;
/// - JSON: split-keyed `[text, intent]` pairs (CLINC150's `data_full.json`), selected with
///   `FILE#split`; a JSON array of pairs or of objects is read whole.
/// A file reads entirely or not at all: the first bad line is an error naming its number.
public enum DatasetFile {
    static let intentKeys = ["intent", "label", "category"]

    /// `spec` is a path, optionally followed by `#split` for split-keyed JSON.
    public static func load(_ spec: String) throws(DatasetError) -> [LabelledExample] {
        var path = spec
        var split: String?
        if let hash = spec.lastIndex(of: "#") {
            path = String(spec[..<hash])
            split = String(spec[spec.index(after: hash)...])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(file: path, problem: "missing or unreadable")
        }
        let examples: [LabelledExample]
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "jsonl", "ndjson": examples = try jsonLines(data, file: path)
        case "csv": examples = try csv(data, file: path)
        case "json": examples = try splitJSON(data, split: split, file: path)
        case let other:
            throw DatasetError(file: path, problem: "unknown dataset format '.\(other)' (use .jsonl, .csv or .json)")
        }
        if split != nil, URL(fileURLWithPath: path).pathExtension.lowercased() != "json" {
            throw DatasetError(file: path, problem: "'#\(split!)' selects a split, which only split-keyed .json files have")
        }
        guard !examples.isEmpty else { throw DatasetError(file: spec, problem: "dataset is empty") }
        return examples
    }

    static func example(text: Any?, intent: Any?, file: String, line: Int) throws(DatasetError) -> LabelledExample {
        guard let text = text as? String else { throw DatasetError(file: file, line: line, problem: "missing \"text\" string") }
        guard let intent = intent as? String else {
            throw DatasetError(file: file, line: line, problem: "missing \"intent\" string (or \"label\"/\"category\")")
        }
        let trimmedIntent = intent.trimmingCharacters(in: .whitespaces)
        guard !trimmedIntent.isEmpty else { throw DatasetError(file: file, line: line, problem: "empty intent") }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw DatasetError(file: file, line: line, problem: "empty text")
        }
        return LabelledExample(text: text, intent: trimmedIntent)
    }

    /// The JSON object of every non-blank line of a JSONL file, with its 1-based line number.
    public static func jsonObjectLines(_ data: Data, file: String) throws(DatasetError) -> [(line: Int, object: [String: Any])] {
        var out: [(line: Int, object: [String: Any])] = []
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw DatasetError(file: file, line: lineNumber, problem: "not a JSON object")
            }
            out.append((lineNumber, object))
        }
        return out
    }

    static func jsonLines(_ data: Data, file: String) throws(DatasetError) -> [LabelledExample] {
        var out: [LabelledExample] = []
        for (line, object) in try jsonObjectLines(data, file: file) {
            let intent = intentKeys.lazy.compactMap { object[$0] }.first
            out.append(try example(text: object["text"], intent: intent, file: file, line: line))
        }
        return out
    }

    static func csv(_ data: Data, file: String) throws(DatasetError) -> [LabelledExample] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError(file: file, problem: "not UTF-8 text")
        }
        let reader: CSVReader
        do { reader = try CSVReader(string: text, hasHeaderRow: true) } catch {
            throw DatasetError(file: file, line: 1, problem: "no header row")
        }
        let header = (reader.headerRow ?? []).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let textColumn = header.firstIndex(of: "text") else {
            throw DatasetError(file: file, line: 1, problem: "header has no 'text' column")
        }
        guard let intentColumn = intentKeys.lazy.compactMap({ header.firstIndex(of: $0) }).first else {
            throw DatasetError(file: file, line: 1, problem: "header has no 'intent', 'label' or 'category' column")
        }
        var out: [LabelledExample] = []
        var row = 1
        while let fields = reader.next() {
            row += 1
            if fields.count == 1 && fields[0].isEmpty { continue }
            guard fields.count == header.count else {
                throw DatasetError(file: file, line: row, problem: "row has \(fields.count) fields, the header has \(header.count)")
            }
            out.append(try example(text: fields[textColumn], intent: fields[intentColumn], file: file, line: row))
        }
        if let error = reader.error { throw DatasetError(file: file, line: row + 1, problem: "malformed CSV (\(error))") }
        return out
    }

    static func splitJSON(_ data: Data, split: String?, file: String) throws(DatasetError) -> [LabelledExample] {
        guard let json = try? JSONSerialization.jsonObject(with: data) else {
            throw DatasetError(file: file, problem: "not valid JSON")
        }
        var items: [Any]
        if let object = json as? [String: Any] {
            guard let split else {
                throw DatasetError(file: file, problem: "split-keyed JSON: choose a split with FILE#split (\(object.keys.sorted().joined(separator: ", ")))")
            }
            guard let selected = object[split] as? [Any] else {
                throw DatasetError(file: file, problem: "no split '\(split)' (has \(object.keys.sorted().joined(separator: ", ")))")
            }
            items = selected
        } else if let array = json as? [Any] {
            items = array
        } else {
            throw DatasetError(file: file, problem: "expected an object of splits or an array of examples")
        }
        var out: [LabelledExample] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            do throws(DatasetError) {
                if let pair = item as? [Any], pair.count == 2 {
                    out.append(try example(text: pair[0], intent: pair[1], file: file, line: 0))
                } else if let object = item as? [String: Any] {
                    out.append(try example(text: object["text"], intent: intentKeys.lazy.compactMap { object[$0] }.first, file: file, line: 0))
                } else {
                    throw DatasetError(file: file, problem: "neither a [text, intent] pair nor an object")
                }
            } catch {
                throw DatasetError(file: file, problem: "item \(i + 1)\(split.map { " of split '\($0)'" } ?? ""): \(error.problem)")
            }
        }
        return out
    }
}
