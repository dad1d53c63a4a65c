import CDNNL

// Integer inference kernels: a fully connected layer with int8 weights (symmetric, per output
// channel, quantized once at load) and uint8 activations (asymmetric, per row, quantized at run
// time), int32 accumulation in oneDNN's `dnnl_gemm_u8s8s32` (run-time dispatch over AVX2,
// AVX-512, VNNI and AMX: writing and tuning that per CPU by hand is what the library is for), and
// an fp32 epilogue (scales, zero point, bias, then GELU or a residual). Inference only: training
// stays fp32, so these have no backward.

/// The integer GEMM this CPU can run, read once from oneDNN's dispatcher.
public enum Int8Support {
    /// What the CPU offers for u8 · s8 products.
    public enum Level: Int, Sendable {
        /// No AVX2: the int8 path is not used; callers fall back to fp32.
        case unavailable = 0
        /// AVX2 or AVX-512 without VNNI: `vpmaddubsw` adds pairs of u8 · s8 products in int16,
        /// which saturates above 32,767; weights keep 7 bits (|q| ≤ 63) so that 2 · 255 · 64 fits.
        case int16Pairs = 1
        /// A VNNI instruction set or AMX: products add in int32; weights use the full 8 bits.
        case vnni = 2
    }

    public static let level = Level(rawValue: Int(intentloop_int8_level())) ?? .unavailable

    /// Largest weight magnitude that cannot saturate on this CPU.
    public static var weightMax: Int { level == .vnni ? 127 : 63 }
}

/// One projection's weight [O, I] (PyTorch layout) in int8, per output channel:
/// weight[o, k] ≈ scales[o] · values[o, k]. `sums[o] = Σ_k values[o, k]` folds the activations'
/// zero point into the epilogue (in int32, exactly). Read-only once built; shared between threads.
public final class QuantizedMatrix: @unchecked Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    public let values: UnsafeMutablePointer<Int8>
    public let scales: UnsafeMutablePointer<Float>
    public let sums: UnsafeMutablePointer<Int32>

    /// Quantizes `weight` [O, I]: scale = max |w| / `maxLevel` per row, values rounded to nearest.
    /// A non-finite weight (a corrupt file) becomes 0 rather than stopping the process.
    public init(_ weight: UnsafePointer<Float>, outFeatures o: Int, inFeatures i: Int, maxLevel: Int = Int8Support.weightMax) {
        precondition(o > 0 && i > 0 && (1...127).contains(maxLevel), "QuantizedMatrix: bad shape [\(o), \(i)] or level \(maxLevel)")
        outFeatures = o
        inFeatures = i
        values = .allocate(capacity: o * i)
        scales = .allocate(capacity: o)
        sums = .allocate(capacity: o)
        for r in 0..<o {
            let row = weight + r * i
            var absMax: Float = 0
            for k in 0..<i where row[k].isFinite { absMax = max(absMax, abs(row[k])) }
            let scale = max(absMax / Float(maxLevel), .leastNormalMagnitude)
            var sum: Int32 = 0
            for k in 0..<i {
                let q = row[k].isFinite ? Int((row[k] / scale).rounded(.toNearestOrEven)) : 0
                let clamped = min(maxLevel, max(-maxLevel, q))
                values[r * i + k] = Int8(clamped)
                sum += Int32(clamped)
            }
            scales[r] = scale
            sums[r] = sum
        }

    }

    /// The weight as it is used: scales[o] · values[o, k] (for tests and per-layer error reports).
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: outFeatures * inFeatures)
        for r in 0..<outFeatures {
            for k in 0..<inFeatures { out[r * inFeatures + k] = scales[r] * Float(values[r * inFeatures + k]) }
        }
        return out
    }

    deinit {
        values.deallocate()
        scales.deallocate()
        sums.deallocate()
    }
}

/// Quantizes each row of inp [N, C] to uint8 with its own scale and zero point over the row's
/// range (widened to hold 0): inp[r, k] ≈ scale[r] · (out[r, k] − zero[r]). Asymmetric, because
/// the inputs of the second feed-forward projection (GELU outputs) are nearly one-signed.
public func quantizeRowsForward(
    _ out: UnsafeMutablePointer<UInt8>, scale: UnsafeMutablePointer<Float>, zero: UnsafeMutablePointer<Float>,
    _ inp: UnsafePointer<Float>, rows n: Int, channels c: Int
) {
    precondition(n >= 0 && c > 0, "quantizeRowsForward: bad shape [\(n), \(c)]")
    for r in 0..<n {
        let x = inp + r * c
        let (lo, hi) = rowRange(x, count: c)
        var s = hi > lo ? (hi - lo) / 255 : 1
        if !s.isFinite || s == 0 { s = 1 }  // an infinite or denormal range: garbage in, but no trap
        var z = (-lo / s).rounded(.toNearestOrEven)
        z = z.isFinite ? min(max(z, 0), 255) : 0
        scale[r] = s
        zero[r] = z
        quantizeRow(out + r * c, x, count: c, inverseScale: 1 / s, zero: z)
    }
}

/// accumulator[r, c] = Σ_k inp[r, k] · weight[c, k] for the given columns, one scalar at a time.
func integerProductFallback(_ acc: UnsafeMutablePointer<Int32>, _ inp: UnsafePointer<UInt8>, _ weight: QuantizedMatrix,
                            rows n: Int, columns: Range<Int>) {
    let i = weight.inFeatures, o = weight.outFeatures
    for r in 0..<n {
        for c in columns {
            var sum: Int32 = 0
            for k in 0..<i { sum &+= Int32(inp[r * i + k]) &* Int32(weight.values[c * i + k]) }
            acc[r * o + c] = sum
        }
    }
}

/// y[k] = rowScale · scales[k] · (acc[k] − rowZero · sums[k]) + bias[k] over one row's slice. The
/// zero-point correction is exact in int32 (|acc − z · sum| ≤ 2 · 255 · 127 · K < 2³¹ for K up to
/// 33,000 inputs; MiniLM's widest is 1,536), so no large float terms cancel.
@inline(never)
func dequantizeRow(_ y: UnsafeMutablePointer<Float>, _ acc: UnsafePointer<Int32>, count c: Int, rowScale sr: Float, rowZero zr: Int32,
                   scales: UnsafePointer<Float>, sums: UnsafePointer<Int32>, bias: UnsafePointer<Float>?) {
    if let bias {
        for k in 0..<c { y[k] = sr * scales[k] * Float(acc[k] &- zr &* sums[k]) + bias[k] }
    } else {
        for k in 0..<c { y[k] = sr * scales[k] * Float(acc[k] &- zr &* sums[k]) }
    }
}

// The loops below are separate, non-inlined functions written as LLVM vectorizes best:
// measured at 350 × 384, the same loops inside the per-row loop above, or through SIMD8's
// pointwiseMin/Max and lane-wise integer conversions (which lower lane by lane), ran 10–18× slower.

/// min(0, x…) and max(0, x…) of one row.
@inline(never)
func rowRange(_ x: UnsafePointer<Float>, count c: Int) -> (lo: Float, hi: Float) {
    var lo8 = SIMD8<Float>.zero, hi8 = SIMD8<Float>.zero
    var k = 0
    while k + 8 <= c {
        let v = load8(x + k)
        lo8.replace(with: v, where: v .< lo8)
        hi8.replace(with: v, where: v .> hi8)
        k += 8
    }
    var lo: Float = 0, hi: Float = 0
    for j in 0..<8 {
        lo = lo8[j] < lo ? lo8[j] : lo
        hi = hi8[j] > hi ? hi8[j] : hi
    }
    while k < c {
        lo = x[k] < lo ? x[k] : lo
        hi = x[k] > hi ? x[k] : hi
        k += 1
    }
    return (lo, hi)
}

/// y[k] = clamp(round(x[k] · inverseScale + zero), 0, 255).
@inline(never)
func quantizeRow(_ y: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>, count c: Int, inverseScale inv: Float, zero z: Float) {
    for k in 0..<c {
        var v = x[k] * inv + z
        v = v < 0 ? 0 : v
        v = v > 255 ? 255 : v
        // Round to nearest even by adding 1.5 · 2²³: the float's low mantissa bits then hold the
        // integer (exact for |v| < 2²²), with no trapping float-to-integer conversion.
        y[k] = UInt8(truncatingIfNeeded: (v + 12_582_912).bitPattern)
    }
}

/// What `int8LinearForward` does to its output after the bias, while the block is in cache.
public enum Int8Epilogue {
    case none
    /// Exact (erf) GELU, as `geluForward`.
    case gelu
    /// out += residual [N, O] (the transformer's skip connection).
    case residual(UnsafePointer<Float>)
}

/// out[N, O] = dequantize(inp_q[N, I] · weight_qᵀ) + bias[O], then `epilogue`, where `inp_q`,
/// `rowScale` and `rowZero` come from `quantizeRowsForward`. `accumulator` holds N · O int32s.
/// Output columns are split over `threads` workers (Dispatch's pool), each one `dnnl_gemm_u8s8s32`
/// call on its own slice of the weight; oneDNN itself runs single-threaded inside each call.
public func int8LinearForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<UInt8>,
    rowScale: UnsafePointer<Float>, rowZero: UnsafePointer<Float>,
    _ weight: QuantizedMatrix, _ bias: UnsafePointer<Float>?, accumulator: UnsafeMutablePointer<Int32>,
    rows n: Int, epilogue: Int8Epilogue = .none, threads: Int = 1
) {
    let i = weight.inFeatures, o = weight.outFeatures
    precondition(n >= 0, "int8LinearForward: negative row count")
    guard n > 0 else { return }
    // Slices of 64 columns: whole cache lines of output, and enough work per call at 1 row.
    let slice = 64
    let slices = (o + slice - 1) / slice
    // A worker gets at least ~64k multiply-adds: below that a dispatch costs more than it saves.
    parallelRanges(slices, threads: threads, grain: max(1, 65_536 / (n * i * slice))) { range in
        let c0 = range.lowerBound * slice, c1 = min(o, range.upperBound * slice)
        let status = intentloop_gemm_u8s8s32(
            Int64(n), Int64(c1 - c0), Int64(i), inp, Int64(i),
            weight.values + c0 * i, Int64(i), accumulator + c0, Int64(o))
        if status != 0 {
            // oneDNN fails only when it cannot allocate its packing buffers: answer anyway, slowly,
            // rather than stop the process.
            integerProductFallback(accumulator, inp, weight, rows: n, columns: c0..<c1)
        }
        int8Epilogue(out, accumulator, rowScale: rowScale, rowZero: rowZero, weight, bias,
                     rows: n, columns: c0..<c1, epilogue: epilogue)
    }
}

private func int8Epilogue(
    _ out: UnsafeMutablePointer<Float>, _ acc: UnsafePointer<Int32>, rowScale: UnsafePointer<Float>, rowZero: UnsafePointer<Float>,
    _ weight: QuantizedMatrix, _ bias: UnsafePointer<Float>?, rows n: Int, columns: Range<Int>, epilogue: Int8Epilogue
) {
    let o = weight.outFeatures
    let c0 = columns.lowerBound, width = columns.count
    for r in 0..<n {
        let y = out + r * o + c0
        dequantizeRow(y, acc + r * o + c0, count: width, rowScale: rowScale[r], rowZero: Int32(rowZero[r]),
                      scales: weight.scales + c0, sums: weight.sums + c0, bias: bias.map { $0 + c0 })
        switch epilogue {
        case .none: break
        case .gelu: geluForward(y, y, count: width)
        case .residual(let skip): residualForward(y, y, skip + r * o + c0, count: width)
        }
    }
}
