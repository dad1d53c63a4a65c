import Foundation

/// A BERT WordPiece tokenizer: basic tokenizer + WordPiece + [CLS] … [SEP], truncated to
/// `maxLength` tokens (specials included).
public struct BertTokenizer: Sendable {
    public var basic: BasicTokenizer
    public let wordPiece: WordPiece
    public let clsID: Int32
    public let sepID: Int32
    public let padID: Int32
    public var maxLength: Int
    /// Tokens matched verbatim in the raw text before normalisation (the fast tokenizer's
    /// special "added tokens": a literal "[CLS]" in user text is the [CLS] token).
    public var specialTokens: [(text: String, id: Int32)] = []

    public var vocabulary: Vocabulary { wordPiece.vocabulary }

    public init(
        vocabulary: Vocabulary, basic: BasicTokenizer = BasicTokenizer(), maxLength: Int = 512,
        unknownToken: String = "[UNK]", clsToken: String = "[CLS]", sepToken: String = "[SEP]", padToken: String = "[PAD]"
    ) throws(TokenizerError) {
        wordPiece = try WordPiece(vocabulary: vocabulary, unknownToken: unknownToken)
        func special(_ token: String) throws(TokenizerError) -> Int32 {
            guard let id = vocabulary.id(token) else {
                throw TokenizerError(file: "vocab.txt", problem: "special token \(token) is not in the vocabulary")
            }
            return id
        }
        clsID = try special(clsToken)
        sepID = try special(sepToken)
        padID = try special(padToken)
        guard maxLength >= 2 else {
            throw TokenizerError(file: "tokenizer", problem: "max length \(maxLength) leaves no room for [CLS] and [SEP]")
        }
        self.basic = basic
        self.maxLength = maxLength
        for token in [padToken, unknownToken, clsToken, sepToken, "[MASK]"] {
            if let id = vocabulary.id(token), !specialTokens.contains(where: { $0.text == token }) {
                specialTokens.append((token, id))
            }
        }
    }

    /// Token ids of one text, without specials or truncation.
    public func wordPieceIDs(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            // The earliest special token in the rest of the text (longest on a tie).
            var match: (range: Range<Substring.Index>, id: Int32)?
            for special in specialTokens {
                guard let r = rest.range(of: special.text) else { continue }
                if match == nil || r.lowerBound < match!.range.lowerBound
                    || (r.lowerBound == match!.range.lowerBound && r.upperBound > match!.range.upperBound) {
                    match = (r, special.id)
                }
            }
            let plainEnd = match?.range.lowerBound ?? rest.endIndex
            for word in basic.words(String(rest[..<plainEnd])) { wordPiece.encode(word: word, into: &ids) }
            guard let match else { break }
            ids.append(match.id)
            rest = rest[match.range.upperBound...]
        }
        return ids
    }

    /// [CLS] ids… [SEP], keeping the first `maxLength − 2` word pieces.
    public func encode(_ text: String) -> [Int32] {
        let pieces = wordPieceIDs(text)
        var ids: [Int32] = [clsID]
        ids.append(contentsOf: pieces.prefix(maxLength - 2))
        ids.append(sepID)
        return ids
    }

    /// Every text encoded, packed back to back.
    public func encodeBatch(_ texts: [String]) -> TokenBatch {
        TokenBatch(sequences: texts.map(encode))
    }

    public func tokens(_ ids: [Int32]) -> [String] { ids.map { vocabulary.token($0) ?? "" } }
}

/// Token sequences packed back to back: sequence s owns ids[starts[s]..<starts[s+1]].
/// `padded()` gives the classic [B, T] layout with an attention mask, T the longest sequence.
public struct TokenBatch: Sendable, Equatable {
    public let ids: [Int32]
    public let starts: [Int]

    public init(sequences: [[Int32]]) {
        var ids: [Int32] = []
        ids.reserveCapacity(sequences.reduce(0) { $0 + $1.count })
        var starts = [0]
        starts.reserveCapacity(sequences.count + 1)
        for s in sequences {
            ids.append(contentsOf: s)
            starts.append(ids.count)
        }
        self.ids = ids
        self.starts = starts
    }

    public var count: Int { starts.count - 1 }
    public var tokenCount: Int { ids.count }
    public var longest: Int { (0..<count).map { length($0) }.max() ?? 0 }
    public func length(_ s: Int) -> Int { starts[s + 1] - starts[s] }
    public func sequence(_ s: Int) -> ArraySlice<Int32> { ids[starts[s]..<starts[s + 1]] }

    /// ids and attention mask [B, T], padded with `padID` to the longest sequence.
    public func padded(padID: Int32) -> (ids: [Int32], mask: [Int32], width: Int) {
        let width = longest
        var out = [Int32](repeating: padID, count: count * width)
        var mask = [Int32](repeating: 0, count: count * width)
        for s in 0..<count {
            for (t, id) in sequence(s).enumerated() {
                out[s * width + t] = id
                mask[s * width + t] = 1
            }
        }
        return (out, mask, width)
    }
}
