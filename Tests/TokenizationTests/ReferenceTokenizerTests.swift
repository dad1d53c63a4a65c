import Foundation
import Testing
import Tokenization

/// Token ids must equal Hugging Face's fast tokenizer (goldens from ops/reference/make_goldens.py).
@Suite struct ReferenceTokenizerTests {
    let tokenizer: BertTokenizer

    init() throws {
        tokenizer = try BertTokenizer(directory: TestPaths.baseModel, maxLength: 256)
    }

    @Test func adversarialInputsMatchReference() throws {
        let text = try String(contentsOf: TestPaths.goldens.appendingPathComponent("adversarial.jsonl"), encoding: .utf8)
        var checked = 0
        for line in text.split(separator: "\n") {
            let entry = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let input = try #require(entry["text"] as? String)
            let expected = try #require(entry["ids"] as? [Int]).map(Int32.init)
            let got = tokenizer.encode(input)
            #expect(got == expected, "text \(input.debugDescription.prefix(120)): \(tokenizer.tokens(got)) vs \(tokenizer.tokens(expected))")
            checked += 1
        }
        #expect(checked >= 60)
    }

    @Test(.enabled(if: TestPaths.datasetsPresent, "../shared/datasets is not beside the project"))
    func everyDatasetUtteranceMatchesReference() throws {
        let data = try Data(contentsOf: TestPaths.goldens.appendingPathComponent("datasets.json"))
        let golden = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let sets = try #require(golden["sets"] as? [String: [String: Any]])
        #expect(sets.count == 8)
        for (name, entry) in sets.sorted(by: { $0.key < $1.key }) {
            let texts = try Self.utterances(name)
            #expect(texts.count == entry["count"] as? Int, "\(name): utterance count")
            let chunk = try #require(entry["chunk"] as? Int)
            let hashes = try #require(entry["hashes"] as? [String])
            for (i, start) in stride(from: 0, to: texts.count, by: chunk).enumerated() {
                var h = FNV1a64()
                for t in texts[start..<min(start + chunk, texts.count)] {
                    h.add((tokenizer.encode(t).map(String.init).joined(separator: " ") + "\n").utf8)
                }
                #expect(h.hex == hashes[i], "\(name): utterances \(start)..<\(start + chunk) differ from the reference")
            }
            for sample in try #require(entry["sample"] as? [[String: Any]]) {
                let text = try #require(sample["text"] as? String)
                let ids = try #require(sample["ids"] as? [Int]).map(Int32.init)
                #expect(tokenizer.encode(text) == ids, "\(name): \(text)")
            }
        }
    }

    /// Utterances of one golden set name: "clinc150/data_full.json#split" or "banking77/x.csv".
    static func utterances(_ name: String) throws -> [String] {
        let parts = name.split(separator: "#").map(String.init)
        let url = TestPaths.datasets.appendingPathComponent(parts[0])
        if parts.count == 2 {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [[Any]]]
            return try #require(json?[parts[1]]).map { $0[0] as? String ?? "" }
        }
        let rows = csvRows(try String(contentsOf: url, encoding: .utf8))
        let column = try #require(rows.first?.firstIndex(of: "text"))
        return rows.dropFirst().map { $0[column] }
    }
}
