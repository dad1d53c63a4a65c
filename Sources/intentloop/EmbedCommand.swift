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
    @OptionGroup var precision: PrecisionOption

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
        let model = try options.loadModel().at(precision.precision)
        let texts = standardInputLines()
        var out = OutputBuffer()
        for vector in model.embed(texts, pooling: pooling, normalize: normalize, batchSize: batchSize) {
            out.line("{\"embedding\":[\(vector.map { "\($0)" }.joined(separator: ","))]}")
        }
        out.flush()
    }
}
