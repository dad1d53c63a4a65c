import ArgumentParser
import Foundation
import IntentData
import IntentKernels
import IntentModel
import Tokenization

/// Encoder throughput (batched, data order, tokenisation included) and single-utterance latency.
struct EncoderBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "encoder")

    @Option(help: "Dataset (FILE or FILE#split).") var data: String
    @Option(help: "Base model directory.") var model: String?
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Batch sizes for the throughput runs.") var batchSizes: [Int] = [32, 64]
    @Option(help: "Passes over the dataset per batch size (median reported).") var repeats = 3
    @Option(help: "Utterances for the batch-1 latency run.") var latencyCount = 1000
    @Option(help: "Arithmetic of the projections: fp32 or int8.") var precision: Precision = .fp32
    @Option(help: "Write the mean-pooled embeddings of the first 1,000 texts here (raw little-endian float32, [N, C]).")
    var embeddingsOut: String?

    func run() throws {
        setBLASThreads(threads)
        let base = try BaseModel.load(model.map { URL(fileURLWithPath: $0) } ?? ModelCache.defaultBaseModel).at(precision)
        let texts = try DatasetFile.load(data).map(\.text)
        let ws = EncoderWorkspace()
        _ = base.embed(Array(texts.prefix(256)), batchSize: 64, workspace: ws)  // warm-up
        // Data order, and sorted by token count (what sentence-transformers' encode() does).
        let byLength = texts.map { ($0, base.tokenizer.encode($0).count) }.sorted { $0.1 < $1.1 }.map(\.0)
        var throughput: [String: Any] = [:], sortedThroughput: [String: Any] = [:]
        for size in batchSizes {
            for (order, sorted) in [(texts, false), (byLength, true)] {
                var times: [Double] = [], cpu: [Double] = []
                for _ in 0..<repeats {
                    let t0 = now(), c0 = processCPUSeconds()
                    _ = base.embed(order, batchSize: size, workspace: ws)
                    times.append(now() - t0)
                    cpu.append(processCPUSeconds() - c0)
                }
                times.sort()
                cpu.sort()
                let median = times[times.count / 2]
                let entry: [String: Any] = ["utterances_per_s": Double(texts.count) / median, "seconds": median,
                                            "cpu_ms_per_utterance": cpu[cpu.count / 2] * 1000 / Double(texts.count)]
                if sorted { sortedThroughput["\(size)"] = entry } else { throughput["\(size)"] = entry }
            }
        }
        if let embeddingsOut {
            let vectors = base.embed(Array(texts.prefix(1000)), batchSize: 64, workspace: ws).flatMap { $0 }
            try vectors.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: embeddingsOut))
        }
        var latencies: [Double] = []
        let latencyCPU0 = processCPUSeconds()
        for text in texts.prefix(latencyCount) {
            let t0 = now()
            _ = base.embed([text], batchSize: 1, workspace: ws)
            latencies.append((now() - t0) * 1000)
        }
        let latencyCPU = (processCPUSeconds() - latencyCPU0) * 1000 / Double(latencies.count)
        latencies.sort()
        let tokens = texts.map { base.tokenizer.encode($0).count }
        try printJSON([
            "implementation": base.encoder.precision == .int8
                ? "IntentLoop Swift encoder, int8 (packed batches, oneDNN u8s8s32, \(Int8Support.level))"
                : "IntentLoop Swift encoder (packed batches, OpenBLAS)",
            "precision": base.encoder.precision.rawValue,
            "threads": threads, "utterances": texts.count,
            "mean_tokens": Double(tokens.reduce(0, +)) / Double(tokens.count),
            "throughput": throughput, "throughput_length_sorted": sortedThroughput,
            "latency_ms": ["p50": percentile(latencies, 50), "p90": percentile(latencies, 90), "p99": percentile(latencies, 99),
                           "count": latencies.count, "cpu_ms_per_utterance": latencyCPU],
            "peak_rss_mib": peakRSSMiB(),
            "blas": blasConfiguration(),
        ])
    }
}
extension Precision: ExpressibleByArgument {}

/// CPU time of the whole process (every thread), in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
