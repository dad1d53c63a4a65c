import Foundation
import IntentData

extension PreferencePair {
    /// Reads preference pairs: JSONL, one {"text", "chosen", "rejected"} object a line.
    /// All or nothing: the first bad line is an error naming its number.
    public static func load(_ path: String) throws(DatasetError) -> [PreferencePair] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(file: path, problem: "missing or unreadable")
        }
        var out: [PreferencePair] = []
        var line = 0
        for raw in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            line += 1
            if raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any] else {
                throw DatasetError(file: path, line: line, problem: "not a JSON object")
            }
            guard let text = object["text"] as? String, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw DatasetError(file: path, line: line, problem: "missing or empty \"text\"")
            }
            guard let chosen = object["chosen"] as? String, let rejected = object["rejected"] as? String else {
                throw DatasetError(file: path, line: line, problem: "missing \"chosen\" or \"rejected\" intent")
            }
            guard chosen != rejected else { throw DatasetError(file: path, line: line, problem: "\"chosen\" and \"rejected\" are the same intent") }
            out.append(PreferencePair(text: text, chosen: chosen, rejected: rejected))
        }
        guard !out.isEmpty else { throw DatasetError(file: path, problem: "no preference pairs") }
        return out
    }
}
