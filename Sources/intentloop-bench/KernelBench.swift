import ArgumentParser
import Foundation
import IntentKernels

/// Linear layer at few rows: OpenBLAS sgemm vs the packed kernel vs int8 (row quantization +
/// oneDNN u8s8s32 + epilogue), time and GFLOP/s (GOP/s for int8) per shape.
struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "linear")
    @Option var rows: [Int] = [1, 4, 11, 16, 24, 32, 64]
    @Option var threads = 2

    func run() throws {
        setBLASThreads(threads)
        var results: [[String: Any]] = []
        let shapes = [(384, 1152), (384, 384), (384, 1536), (1536, 384)]
        let layers = 6
        for n in rows {
            for (i, o) in shapes {
                let weights = (0..<layers).map { _ in FloatBuffer((0..<(i * o)).map { _ in Float.random(in: -1...1) }) }
                let packed = weights.map { w in
                    let p = FloatBuffer(count: packedWeightCount(inFeatures: i, outFeatures: o))
                    packWeight(p.pointer, w.pointer, inFeatures: i, outFeatures: o)
                    return p
                }
                let x = FloatBuffer((0..<(n * i)).map { _ in Float.random(in: -1...1) })
                let bias = FloatBuffer(count: o), y = FloatBuffer(count: n * o), y2 = FloatBuffer(count: n * o), y3 = FloatBuffer(count: n * o)
                func time(_ body: (Int) -> Void) -> Double {
                    var best = Double.infinity
                    for _ in 0..<20 {
                        let t0 = now()
                        for l in 0..<layers { body(l) }
                        best = min(best, (now() - t0) / Double(layers))
                    }
                    return best
                }
                let blas = time { l in linearForward(y.pointer, x.pointer, weights[l].pointer, bias.pointer, rows: n, inFeatures: i, outFeatures: o) }
                let mine = time { l in packedLinearForward(y3.pointer, x.pointer, packed: packed[l].pointer, bias.pointer, rows: n, inFeatures: i, outFeatures: o, threads: threads) }
                let quantized = weights.map { QuantizedMatrix($0.pointer, outFeatures: o, inFeatures: i) }
                let xq = UnsafeMutablePointer<UInt8>.allocate(capacity: n * i), acc = UnsafeMutablePointer<Int32>.allocate(capacity: n * o)
                let scale = FloatBuffer(count: n), zero = FloatBuffer(count: n)
                defer { xq.deallocate(); acc.deallocate() }
                let quantize = time { _ in quantizeRowsForward(xq, scale: scale.pointer, zero: zero.pointer, x.pointer, rows: n, channels: i) }
                let library = time { l in
                    quantizeRowsForward(xq, scale: scale.pointer, zero: zero.pointer, x.pointer, rows: n, channels: i)
                    int8LinearForward(y2.pointer, xq, rowScale: scale.pointer, rowZero: zero.pointer, quantized[l], bias.pointer,
                                      accumulator: acc, rows: n, threads: threads)
                }
                let diff = zip(y.array, y2.array).map { abs($0 - $1) }.max() ?? 0
                let packedDiff = zip(y.array, y3.array).map { abs($0 - $1) }.max() ?? 0
                let flop = 2.0 * Double(n * i * o)
                results.append(["rows": n, "in": i, "out": o, "sgemm_us": blas * 1e6, "packed_us": mine * 1e6,
                                "sgemm_gflops": flop / blas / 1e9, "packed_gflops": flop / mine / 1e9, "int8_onednn_us": library * 1e6,
                                "int8_quantize_us": quantize * 1e6, "int8_onednn_gops": flop / library / 1e9, "int8_max_abs_diff": diff,
                                "max_abs_diff": packedDiff])
            }
        }
        try printJSON(["threads": threads, "results": results])
    }
}
