import Foundation

/// The one definition of acceptable text, shared by the API, the pages, imports and the
/// database's CHECK constraints. Lengths are counted in Unicode scalars, the unit PostgreSQL's
/// `length()` counts in a UTF-8 database (Swift's `count` counts grapheme clusters: "a" followed
/// by 2,500 combining accents is one Character but 2,501 scalars, which the CHECK refuses).
public enum InputRules {
    /// Utterances, notes: at most this many Unicode scalars.
    public static let maxTextScalars = 2000
    /// A request's `metadata`, encoded as JSON: at most this many bytes.
    public static let maxMetadataBytes = 4096
    /// `Idempotency-Key`: 1–200 printable ASCII characters.
    public static let maxIdempotencyKeyLength = 200

    /// Why `text` is not acceptable (nil when it is): empty or blank when `required`, longer than
    /// `maxScalars`, or holding a code point PostgreSQL or JSON cannot store or a person cannot
    /// have typed (NUL, other C0 controls but tab/newline/return, noncharacters).
    public static func textProblem(_ text: String, required: Bool = true, maxScalars: Int = maxTextScalars) -> String? {
        var count = 0
        var blank = true
        for scalar in text.unicodeScalars {
            count += 1
            if count > maxScalars { return "is longer than \(maxScalars) characters (Unicode code points)" }
            if let reason = refused(scalar) { return "contains \(reason)" }
            if blank && !scalar.properties.isWhitespace { blank = false }
        }
        if required && blank { return count == 0 ? "is empty" : "is blank" }
        return nil
    }

    /// Why `scalar` is refused, or nil.
    static func refused(_ scalar: Unicode.Scalar) -> String? {
        let v = scalar.value
        if v == 0 { return "a NUL character (U+0000)" }
        if v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D { return "a control character (U+\(hex(v)))" }
        if (0xFDD0...0xFDEF).contains(v) || v & 0xFFFE == 0xFFFE { return "a noncharacter (U+\(hex(v)))" }
        return nil
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    /// The metadata object as stored (JSON, sorted keys), or the problem with it.
    public static func encodeMetadata(_ metadata: [String: String]) -> Result<String, MetadataProblem> {
        for (key, value) in metadata {
            if let p = textProblem(key, required: true, maxScalars: 200) { return .failure(.init(message: "metadata key \(p)")) }
            if let p = textProblem(value, required: false, maxScalars: maxMetadataBytes) { return .failure(.init(message: "metadata value \(p)")) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(metadata) else { return .failure(.init(message: "metadata cannot be encoded")) }
        guard data.count <= maxMetadataBytes else {
            return .failure(.init(message: "metadata is \(data.count) bytes as JSON; at most \(maxMetadataBytes) are stored"))
        }
        return .success(String(decoding: data, as: UTF8.self))
    }

    public struct MetadataProblem: Error, Sendable { public let message: String }

    /// Why an `Idempotency-Key` is not acceptable, or nil.
    public static func idempotencyKeyProblem(_ key: String) -> String? {
        guard !key.isEmpty, key.utf8.count <= maxIdempotencyKeyLength else { return "must be 1–\(maxIdempotencyKeyLength) characters" }
        guard key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return "must be printable ASCII without spaces" }
        return nil
    }

    /// Intent names: 1–100 letters, digits or `_.:/-` (the `intents.name` CHECK).
    public static func validIntentName(_ name: String) -> Bool {
        (1...100).contains(name.unicodeScalars.count) && name.unicodeScalars.allSatisfy(intentNameCharacter)
    }

    /// A character an intent name may hold: ASCII letters, digits and _.:/-.
    public static func intentNameCharacter(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (CharacterSet.alphanumerics.contains(c) || "_.:/-".unicodeScalars.contains(c))
    }
}

extension InputRules {
    /// Usernames: 1–64 ASCII letters, digits or `_.@-` (the `users.username` CHECK).
    public static func validUsername(_ name: String) -> Bool {
        (1...64).contains(name.unicodeScalars.count)
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.@-".unicodeScalars.contains($0)) }
    }
}
