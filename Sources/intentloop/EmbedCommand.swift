import ArgumentParser
import Foundation
import IntentModel

extension Pooling: ExpressibleByArgument {}

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Texts on stdin, one per line -> JSON lines {\"embedding\": [...]}."
    )

    @OptionGroup var options: ModelOptions

    @Option(help: "mean or cls (default: the model's sentence-transformers pooling, else mean).")
    var pooling: Pooling?

    @Flag(help: "Scale each embedding to unit L2 norm.")
    var normalize = false

    @Option(help: "Texts per forward pass.")
    var batchSize = 32

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        let model = try options.loadModel()
        let texts = standardInputLines()
        var out = OutputBuffer()
        let workspace = EncoderWorkspace()
        var start = 0
        while start < texts.count {
            let chunk = Array(texts[start..<min(start + batchSize, texts.count)])
            for vector in model.embed(chunk, pooling: pooling, normalize: normalize, batchSize: batchSize, workspace: workspace) {
                out.line("{\"embedding\":[\(vector.map { "\($0)" }.joined(separator: ","))]}")
            }
            start += chunk.count
        }
        out.flush()
    }
}
