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

    func run() throws {
        setBLASThreads(threads)
        let base = try BaseModel.load(model.map { URL(fileURLWithPath: $0) } ?? ModelCache.defaultBaseModel)
        let texts = try DatasetFile.load(data).map(\.text)
        let ws = EncoderWorkspace()
        _ = base.embed(Array(texts.prefix(256)), batchSize: 64, workspace: ws)  // warm-up
        var throughput: [String: Any] = [:]
        for size in batchSizes {
            var times: [Double] = []
            for _ in 0..<repeats {
                let t0 = now()
                _ = base.embed(texts, batchSize: size, workspace: ws)
                times.append(now() - t0)
            }
            times.sort()
            let median = times[times.count / 2]
            throughput["\(size)"] = ["utterances_per_s": Double(texts.count) / median, "seconds": median]
        }
        var latencies: [Double] = []
        for text in texts.prefix(latencyCount) {
            let t0 = now()
            _ = base.embed([text], batchSize: 1, workspace: ws)
            latencies.append((now() - t0) * 1000)
        }
        latencies.sort()
        let tokens = texts.map { base.tokenizer.encode($0).count }
        try printJSON([
            "implementation": "IntentLoop Swift encoder (packed batches, OpenBLAS)",
            "threads": threads, "utterances": texts.count,
            "mean_tokens": Double(tokens.reduce(0, +)) / Double(tokens.count),
            "throughput": throughput,
            "latency_ms": ["p50": percentile(latencies, 50), "p90": percentile(latencies, 90), "p99": percentile(latencies, 99),
                           "count": latencies.count],
            "peak_rss_mib": peakRSSMiB(),
            "blas": blasConfiguration(),
        ])
    }
}
