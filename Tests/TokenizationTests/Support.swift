import Foundation
import Tokenization

/// Paths the tests read: the project root, the cached base model (ops/setup fetches it) and the
/// shared datasets beside the project (present in CI and development checkouts).
enum TestPaths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let goldens = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Goldens")
    static let datasets = root.deletingLastPathComponent().appendingPathComponent("shared/datasets")

    static var baseModel: URL {
        let env = ProcessInfo.processInfo.environment
        if let d = env["INTENTLOOP_MODEL_DIR"], !d.isEmpty { return URL(fileURLWithPath: d) }
        let home = env["INTENTLOOP_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/intentloop")
        return home.appendingPathComponent("models/all-MiniLM-L6-v2")
    }

    static var datasetsPresent: Bool { FileManager.default.fileExists(atPath: datasets.path) }
}

/// FNV-1a 64-bit, the hash the golden script uses for token-id lines.
struct FNV1a64 {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ bytes: some Sequence<UInt8>) {
        for b in bytes {
            value ^= UInt64(b)
            value = value &* 0x0000_0100_0000_01B3
        }
    }
    var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// RFC 4180 CSV rows (quoted fields, doubled quotes, newlines inside quotes).
func csvRows(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var chars = text.makeIterator()
    var pending: Character? = nil
    while let c = pending ?? chars.next() {
        pending = nil
        if quoted {
            if c == "\"" {
                let next = chars.next()
                if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
            } else { field.append(c) }
        } else if c == "\"" { quoted = true }
        else if c == "," { row.append(field); field = "" }
        else if c == "\n" || c == "\r\n" { row.append(field); rows.append(row); row = []; field = "" }
        else if c != "\r" { field.append(c) }
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    return rows
}
