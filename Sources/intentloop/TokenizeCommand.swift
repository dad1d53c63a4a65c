import ArgumentParser
import Foundation
import IntentModel
import Tokenization

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Texts on stdin, one per line -> JSON lines {\"ids\": [...], \"tokens\": [...]}."
    )

    @Option(help: "Base model directory whose vocab.txt and tokenizer files to use.")
    var model: String?

    @Option(help: "Truncate to this many tokens, [CLS] and [SEP] included (default: the model's).")
    var maxLength: Int?

    func validate() throws {
        if let maxLength, maxLength < 2 { throw ValidationError("--max-length must be at least 2") }
    }

    func run() throws {
        let directory = model.map { URL(fileURLWithPath: $0) } ?? ModelCache.defaultBaseModel
        let tokenizer: BertTokenizer
        do { tokenizer = try BertTokenizer(directory: directory, maxLength: maxLength) } catch {
            throw CLIFailure(message: error.description)
        }
        var out = OutputBuffer()
        for text in standardInputLines() {
            let ids = tokenizer.encode(text)
            let tokens = tokenizer.tokens(ids).map(jsonString).joined(separator: ",")
            out.line("{\"ids\":[\(ids.map(String.init).joined(separator: ","))],\"tokens\":[\(tokens)]}")
        }
        out.flush()
    }
}
