import ArgumentParser
import Foundation
import IntentKernels
import IntentModel

/// Options every model-using command shares.
struct ModelOptions: ParsableArguments {
    @Option(help: "Base model directory (Hugging Face layout). Default: the cached all-MiniLM-L6-v2.")
    var model: String?

    @Option(help: "OpenBLAS threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    var modelURL: URL { model.map { URL(fileURLWithPath: $0) } ?? ModelCache.defaultBaseModel }

    /// Sets the BLAS thread count and loads the base model, turning model errors into exit 2.
    func loadModel() throws -> BaseModel {
        setBLASThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        do { return try BaseModel.load(modelURL) } catch { throw CLIFailure(message: error.description) }
    }
}

/// `--precision` of the inference commands (`embed`, `eval`, `predict`; `serve` has its own).
/// Training is always fp32.
struct PrecisionOption: ParsableArguments {
    @Option(help: "Arithmetic of the encoder's projections: int8 or fp32 (int8 falls back to fp32 on CPUs without AVX2).")
    var precision: Precision = .defaultServing
}

extension Precision: ExpressibleByArgument {
    /// What `serve`, `eval`, `predict` and `embed` run unless told otherwise (results/int8.md).
    static let defaultServing: Precision = .int8
}

/// Lines of standard input, without their line ends.
func standardInputLines() -> [String] {
    var lines: [String] = []
    while let line = readLine(strippingNewline: true) { lines.append(line) }
    return lines
}

/// Writes to standard output through one buffer (JSON lines can be large).
struct OutputBuffer {
    private var data = Data()
    mutating func line(_ s: String) {
        data.append(contentsOf: s.utf8)
        data.append(0x0A)
        if data.count > 1 << 16 { flush() }
    }
    mutating func flush() {
        FileHandle.standardOutput.write(data)
        data.removeAll(keepingCapacity: true)
    }
}

/// A JSON string literal.
func jsonString(_ s: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
}
