import Foundation
import IntentStore
import Testing

/// The one text rule shared by the API, pages, imports and the database (issue 9, item 4).
@Suite struct InputRulesTests {
    static let combining = "a" + String(repeating: "\u{0301}", count: 2500)

    @Test(arguments: [
        ("where is my parcel", nil),
        ("", "is empty"),
        ("   \n\t", "is blank"),
        ("hi\u{0000}there", "contains a NUL character (U+0000)"),
        ("bell\u{0007}", "contains a control character (U+0007)"),
        ("line\nbreak\ttab\r", nil),
        ("\u{FFFE}", "contains a noncharacter (U+FFFE)"),
        ("\u{10FFFF}", "contains a noncharacter (U+10FFFF)"),
        (String(Unicode.Scalar(0xFDD0)!), "contains a noncharacter (U+FDD0)"),
        ("emoji 👩‍👩‍👧 and RTL \u{202E}abc", nil),
        (combining, "is longer than 2000 characters (Unicode code points)"),
        (String(repeating: "é", count: 2000), nil),
        (String(repeating: "x", count: 2001), "is longer than 2000 characters (Unicode code points)"),
    ] as [(String, String?)])
    func text(_ input: String, problem: String?) {
        #expect(InputRules.textProblem(input) == problem)
    }

    @Test func lengthIsCountedInScalarsNotCharacters() {
        // One Character, 2,001 scalars: PostgreSQL's length() says 2,001, so it must be refused here.
        let text = "a" + String(repeating: "\u{0301}", count: 2000)
        #expect(text.count == 1)
        #expect(InputRules.textProblem(text) != nil)
        #expect(InputRules.textProblem(String(text.unicodeScalars.dropLast().map(Character.init))) == nil)
    }

    @Test func optionalTextMayBeEmpty() {
        #expect(InputRules.textProblem("", required: false) == nil)
        #expect(InputRules.textProblem("\u{0}", required: false) != nil)
    }

    @Test func metadataIsBoundedAndClean() throws {
        #expect(try InputRules.encodeMetadata(["b": "2", "a": "1"]).get() == #"{"a":"1","b":"2"}"#)
        #expect(try InputRules.encodeMetadata([:]).get() == "{}")
        let big = ["k": String(repeating: "x", count: 4090)]
        guard case .failure(let tooBig) = InputRules.encodeMetadata(big) else { Issue.record("4 KiB+ accepted"); return }
        #expect(tooBig.message.contains("4096"))
        guard case .failure(let nul) = InputRules.encodeMetadata(["k": "a\u{0}b"]) else { Issue.record("NUL accepted"); return }
        #expect(nul.message.contains("NUL"))
        guard case .failure = InputRules.encodeMetadata(["": "x"]) else { Issue.record("empty key accepted"); return }
    }

    @Test(arguments: [
        ("3f1c2d9e-retry", nil), ("", "must be 1–200 characters"), (String(repeating: "k", count: 201), "must be 1–200 characters"),
        ("has space", "must be printable ASCII without spaces"), ("ключ", "must be printable ASCII without spaces"),
    ] as [(String, String?)])
    func idempotencyKey(_ key: String, problem: String?) {
        #expect(InputRules.idempotencyKeyProblem(key) == problem)
    }

    @Test func names() {
        #expect(InputRules.validIntentName("billing/refund:v2"))
        #expect(!InputRules.validIntentName("with space"))
        #expect(!InputRules.validIntentName("café"))
        #expect(!InputRules.validIntentName(String(repeating: "a", count: 101)))
        #expect(InputRules.validUsername("demo-agent@site.example"))
        #expect(!InputRules.validUsername("bob\n"))
        #expect(!InputRules.validUsername(""))
    }
}
