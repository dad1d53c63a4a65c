import Foundation

/// The reference figures written by ops/reference/gate_statistics_golden.py (numpy + scipy).
struct Golden: Decodable {
    struct McNemarCase: Decodable { let b: Int, c: Int, p: Double }
    struct CDFCase: Decodable { let x: Double, cdf: Double }
    struct QuantileCase: Decodable { let p: Double, x: Double }
    struct WilsonCase: Decodable { let k: Int, n: Int, confidence: Double, estimate: Double, lower: Double, upper: Double }
    struct PercentileCase: Decodable { let sorted: [Double], q: [Double], values: [Double] }
    struct BootstrapInterval: Decodable { let confidence: Double, lower: Double, upper: Double }
    struct PairedBootstrapCase: Decodable {
        let candidate: [Int], baseline: [Int]
        let estimate: Double, resamples: Int, bootstrapSd: Double
        let intervals: [BootstrapInterval]
    }
    struct MacroF1BootstrapCase: Decodable {
        let classes: Int, truth: [Int], predicted: [Int]
        let estimate: Double, resamples: Int, bootstrapSd: Double
        let intervals: [BootstrapInterval]
    }
    struct ClassCase: Decodable {
        let label: String, precision: Double, recall: Double, f1: Double, support: Int, predictedCount: Int
    }
    struct ClassificationCase: Decodable {
        let labelsIn: [String], truth: [String], predicted: [String]
        let labels: [String], confusion: [[Int]], accuracy: Double, macroF1: Double, perClass: [ClassCase]
    }
    struct MDDCase: Decodable { let n: Int, psi: Double, alpha: Double, power: Double, delta: Double? }
    struct SplitMixCase: Decodable { let seed: UInt64, outputs: [UInt64] }

    let mcnemar: [McNemarCase]
    let mcnemarApproximate: [McNemarCase]
    let normalCdf: [CDFCase]
    let normalQuantile: [QuantileCase]
    let wilson: [WilsonCase]
    let percentile: [PercentileCase]
    let pairedBootstrap: PairedBootstrapCase
    let macroF1Bootstrap: MacroF1BootstrapCase
    let classification: ClassificationCase
    let mdd: [MDDCase]
    let splitmix64: SplitMixCase

    static func load() throws -> Golden {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Goldens/gate_statistics.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Golden.self, from: Data(contentsOf: url))
    }
}

/// |a − b| ≤ rel·max(|a|, |b|) + abs.
func isClose(_ a: Double, _ b: Double, rel: Double, abs absolute: Double = 0) -> Bool {
    if a == b { return true }  // also ±∞
    return Swift.abs(a - b) <= rel * max(Swift.abs(a), Swift.abs(b)) + absolute
}
