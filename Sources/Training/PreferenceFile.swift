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
        for (line, object) in try DatasetFile.jsonObjectLines(data, file: path) {
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
