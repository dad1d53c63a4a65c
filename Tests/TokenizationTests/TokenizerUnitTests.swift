import Testing
import Tokenization

@Suite struct TokenizerUnitTests {
    let vocab = try! Vocabulary(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "!", "hello", "你", "cafe"])

    @Test func wordPieceIsGreedyLongestMatch() throws {
        let wp = try WordPiece(vocabulary: vocab)
        var ids: [Int32] = []
        wp.encode(word: Array("unaffable".unicodeScalars), into: &ids)
        #expect(ids == [4, 5, 6])
    }

    @Test func wordWithoutFullSplitIsUnknown() throws {
        let wp = try WordPiece(vocabulary: vocab)
        var ids: [Int32] = [9]
        wp.encode(word: Array("unaffx".unicodeScalars), into: &ids)
        #expect(ids == [9, 1])
    }

    @Test func overlongWordIsUnknown() throws {
        var wp = try WordPiece(vocabulary: vocab)
        wp.maxInputCharsPerWord = 5
        var ids: [Int32] = []
        wp.encode(word: Array("unaffable".unicodeScalars), into: &ids)
        #expect(ids == [1])
    }

    @Test func basicTokenizerSplitsPunctuationCJKAndStripsAccents() {
        let basic = BasicTokenizer()
        let words = basic.words("Héllo,你好\u{0007}  CAFÉ!").map { String(String.UnicodeScalarView($0)) }
        #expect(words == ["hello", ",", "你", "好", "cafe", "!"])
    }

    @Test func casedTokenizerKeepsCaseAndAccents() {
        let basic = BasicTokenizer(lowercase: false)
        let words = basic.words("Café Noir").map { String(String.UnicodeScalarView($0)) }
        #expect(words == ["Café", "Noir"])
    }

    @Test func encodeAddsSpecialsAndTruncates() throws {
        let tok = try BertTokenizer(vocabulary: vocab, maxLength: 4)
        #expect(tok.encode("hello hello hello") == [2, 9, 9, 3])
        #expect(tok.encode("") == [2, 3])
        #expect(tok.encode("   ") == [2, 3])
    }

    @Test func batchPadsToLongestWithMask() throws {
        let tok = try BertTokenizer(vocabulary: vocab)
        let batch = tok.encodeBatch(["hello", "hello cafe !"])
        #expect(batch.starts == [0, 3, 8])
        let padded = batch.padded(padID: tok.padID)
        #expect(padded.width == 5)
        #expect(padded.ids == [2, 9, 3, 0, 0, 2, 9, 11, 8, 3])
        #expect(padded.mask == [1, 1, 1, 0, 0, 1, 1, 1, 1, 1])
    }

    @Test func missingSpecialTokenIsAnError() {
        #expect(throws: TokenizerError.self) { try BertTokenizer(vocabulary: try Vocabulary(tokens: ["[UNK]", "a"])) }
    }
}
