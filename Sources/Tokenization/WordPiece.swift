/// Greedy longest-match-first WordPiece: a word splits into the longest vocabulary prefix, then
/// the longest "##"-prefixed continuation, and so on; a word with no full split, or longer than
/// `maxInputCharsPerWord` characters, becomes the unknown token.
public struct WordPiece: Sendable {
    public let vocabulary: Vocabulary
    public let unknownID: Int32
    public var continuingPrefix = "##"
    public var maxInputCharsPerWord = 100

    public init(vocabulary: Vocabulary, unknownToken: String = "[UNK]") throws(TokenizerError) {
        guard let unk = vocabulary.id(unknownToken) else {
            throw TokenizerError(file: "vocab.txt", problem: "unknown token \(unknownToken) is not in the vocabulary")
        }
        self.vocabulary = vocabulary
        self.unknownID = unk
    }

    /// Appends the ids of one word to `ids`.
    public func encode(word: [Unicode.Scalar], into ids: inout [Int32]) {
        guard !word.isEmpty else { return }
        guard word.count <= maxInputCharsPerWord else {
            ids.append(unknownID)
            return
        }
        let mark = ids.count
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while end > start {
                var piece = start > 0 ? continuingPrefix : ""
                piece.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocabulary.id(piece) {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                ids.removeSubrange(mark...)
                ids.append(unknownID)
                return
            }
            ids.append(id)
            start = end
        }
    }
}
