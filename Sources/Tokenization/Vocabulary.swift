import Foundation

/// WordPiece vocabulary: one token a line in `vocab.txt`, its id is its line number.
public struct Vocabulary: Sendable {
    public let tokens: [String]
    let ids: [String: Int32]

    public init(tokens: [String]) throws(TokenizerError) {
        guard !tokens.isEmpty else { throw TokenizerError(file: "vocab.txt", problem: "vocabulary is empty") }
        self.tokens = tokens
        var ids = [String: Int32](minimumCapacity: tokens.count)
        for (i, token) in tokens.enumerated() where ids[token] == nil { ids[token] = Int32(i) }
        self.ids = ids
    }

    /// Reads `vocab.txt` (UTF-8, "\n" or "\r\n" line ends).
    public init(contentsOf url: URL) throws(TokenizerError) {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TokenizerError(file: url.path, problem: "cannot read vocabulary (missing or not UTF-8)")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        if lines.last == "" { lines.removeLast() }
        do { try self.init(tokens: lines) } catch {
            throw TokenizerError(file: url.path, problem: error.problem)
        }
    }

    public var count: Int { tokens.count }
    public func id(_ token: String) -> Int32? { ids[token] }
    public func token(_ id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }
}

/// A tokenizer file that cannot be used: names the file and the problem in one line.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let problem: String
    public init(file: String, problem: String) {
        self.file = file
        self.problem = problem
    }
    public var description: String { "\(file): \(problem)" }
}
