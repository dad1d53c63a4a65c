import Foundation
@testable import IntentKernels
import IntentTestSupport
import Testing

extension TestRandom {
    /// Roughly standard normal: the sum of four uniforms, scaled to unit variance (bounded tails).
    mutating func gaussianish(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (float() + float() + float() + float()) * 0.8660254 * scale }
    }
}

/// Rows of `x` [n, c] through `quantizeRowsForward`.
private func quantizeRows(_ x: [Float], rows n: Int, channels c: Int) -> (q: [UInt8], scale: [Float], zero: [Float]) {
    var q = [UInt8](repeating: 0xAA, count: n * c)
    var s = [Float](repeating: .nan, count: n), z = [Float](repeating: .nan, count: n)
    quantizeRowsForward(&q, scale: &s, zero: &z, x, rows: n, channels: c)
    return (q, s, z)
}

/// What the integer path should give, from the quantized integers themselves: `raw[r, o]` =
/// Σ_k q_x[r, k] · q_w[o, k] (the integer GEMM's own sum, before the zero point) and `out[r, o]` =
/// Σ_k (q_x[r, k] − zero[r]) · q_w[o, k] · s_row[r] · s_w[o] + bias[o], in exact integers then Double.
private func integerReference(
    _ q: [UInt8], scale: [Float], zero: [Float], _ m: QuantizedMatrix, bias: [Float]?, rows n: Int
) -> (raw: [Int], out: [Double]) {
    let i = m.inFeatures, o = m.outFeatures
    var raw = [Int](repeating: 0, count: n * o)
    var out = [Double](repeating: 0, count: n * o)
    var weightSums = [Int](repeating: 0, count: o)
    for c in 0..<o {
        var s = 0
        for k in 0..<i { s += Int(m.values[c * i + k]) }
        weightSums[c] = s
    }
    q.withUnsafeBufferPointer { qx in
        for r in 0..<n {
            let x = qx.baseAddress! + r * i
            for c in 0..<o {
                let w = m.values + c * i
                var acc = 0
                for k in 0..<i { acc += Int(x[k]) * Int(w[k]) }
                raw[r * o + c] = acc
                let centred = acc - Int(zero[r]) * weightSums[c]
                out[r * o + c] = Double(centred) * Double(scale[r]) * Double(m.scales[c]) + Double(bias?[c] ?? 0)
            }
        }
    }
    return (raw, out)
}

/// `int8LinearForward` into fresh arrays (output NaN-filled, accumulator garbage-filled first).
private func int8Linear(
    _ q: [UInt8], scale: [Float], zero: [Float], _ m: QuantizedMatrix, bias: [Float]?, rows n: Int,
    epilogue: Int8Epilogue = .none, threads: Int
) -> (out: [Float], acc: [Int32]) {
    let o = m.outFeatures
    var out = [Float](repeating: .nan, count: n * o)
    var acc = [Int32](repeating: 0x5A5A_5A5A, count: n * o)
    if let bias {
        int8LinearForward(&out, q, rowScale: scale, rowZero: zero, m, bias, accumulator: &acc, rows: n, epilogue: epilogue, threads: threads)
    } else {
        int8LinearForward(&out, q, rowScale: scale, rowZero: zero, m, nil, accumulator: &acc, rows: n, epilogue: epilogue, threads: threads)
    }
    return (out, acc)
}

/// max |got − ref| / max |ref| (a matrix-wide relative error: single entries may be near zero).
private func maxRelativeError(_ got: [Float], _ ref: [Double]) -> Double {
    precondition(got.count == ref.count)
    let scale = max(ref.map(abs).max() ?? 0, 1e-30)
    return zip(got, ref).map { abs(Double($0) - $1) }.max().map { $0 / scale } ?? 0
}

struct Int8Shape: Sendable, CustomTestStringConvertible {
    let inFeatures: Int
    let outFeatures: Int
    var testDescription: String { "\(inFeatures)→\(outFeatures)" }
}

@Suite struct Int8SupportTests {
    @Test func weightMaxFollowsTheLevel() {
        print("[int8] level \(Int8Support.level), weightMax \(Int8Support.weightMax)")
        #expect(Int8Support.weightMax == (Int8Support.level == .vnni ? 127 : 63))
    }
}

@Suite struct Int8QuantizeRowsTests {
    /// Rows of mixed sign, one-signed, large, tiny, and with exact zeros, at widths with and
    /// without a SIMD tail.
    @Test(arguments: [1, 8, 13, 384, 1536])
    func dequantizedWithinHalfAStep(width c: Int) {
        var rng = TestRandom(seed: UInt64(100 + c))
        let n = 6
        var x = rng.floats(n * c, scale: 3)
        for k in 0..<c {
            x[1 * c + k] = abs(x[1 * c + k]) + 0.5  // positive, away from zero
            x[2 * c + k] *= 1000
            x[3 * c + k] *= 1e-4
            x[5 * c + k] = -abs(x[5 * c + k])  // non-positive
        }
        for k in stride(from: 0, to: c, by: 7) { x[k] = 0 }  // exact zeros in a mixed-sign row
        x[4 * c + c / 2] = 0
        let (q, s, z) = quantizeRows(x, rows: n, channels: c)
        for r in 0..<n {
            #expect(s[r].isFinite && s[r] > 0, "row \(r): scale \(s[r])")
            #expect(z[r] >= 0 && z[r] <= 255 && z[r] == z[r].rounded(), "row \(r): zero point \(z[r])")
            var worst: Float = 0
            var zerosExact = true
            for k in 0..<c {
                let deq = s[r] * (Float(q[r * c + k]) - z[r])
                worst = max(worst, abs(deq - x[r * c + k]))
                if x[r * c + k] == 0 && deq != 0 { zerosExact = false }
            }
            let bound = s[r] * (0.5 + 1e-3)
            #expect(worst <= bound, "width \(c) row \(r): max |x − s·(q − z)| = \(worst), bound \(bound) (scale \(s[r]))")
            #expect(zerosExact, "width \(c) row \(r): an exact 0 does not dequantize to 0")
        }
    }

    @Test func zeroAndConstantRowsAreFinite() {
        let c = 13
        let rows: [[Float]] = [
            [Float](repeating: 0, count: c),
            [Float](repeating: -0.0, count: c),
            [Float](repeating: 2.5, count: c),
            [Float](repeating: -2.5, count: c),
            [Float](repeating: 1e-20, count: c),
        ]
        let (q, s, z) = quantizeRows(rows.flatMap { $0 }, rows: rows.count, channels: c)
        for r in rows.indices {
            #expect(s[r].isFinite && s[r] > 0, "row \(r): scale \(s[r])")
            #expect(z[r].isFinite && z[r] >= 0 && z[r] <= 255, "row \(r): zero point \(z[r])")
            for k in 0..<c {
                let deq = s[r] * (Float(q[r * c + k]) - z[r])
                #expect(!deq.isNaN)
                #expect(abs(deq - rows[r][k]) <= s[r] * 0.501, "row \(r) column \(k): \(deq) for \(rows[r][k])")
            }
        }
        // All-zero rows: every byte at the zero point, dequantized exactly 0.
        #expect(q[0..<(2 * c)].allSatisfy { Float($0) == z[0] })
        // A constant row uses an end of the range: 255 above zero, 0 below it.
        #expect(q[(2 * c)..<(3 * c)].allSatisfy { $0 == 255 } && z[2] == 0)
        #expect(q[(3 * c)..<(4 * c)].allSatisfy { $0 == 0 } && z[3] == 255)
    }

    /// GELU-like inputs (one-signed): the zero point sits at 0 and the row spans all 256 levels,
    /// not the half a symmetric scheme would leave.
    @Test(arguments: [13, 1536])
    func oneSignedRowUsesTheFullRange(width c: Int) {
        var rng = TestRandom(seed: UInt64(7 + c))
        var x = rng.gaussianish(c, scale: 1.5).map(abs)
        x[c / 3] = 0
        let (q, s, z) = quantizeRows(x, rows: 1, channels: c)
        #expect(z[0] == 0)
        #expect(q.min() == 0 && q.max() == 255, "levels \(q.min() ?? 0)…\(q.max() ?? 0)")
        #expect(abs(s[0] - x.max()! / 255) <= 1e-6 * s[0])
    }
}

@Suite struct Int8QuantizedMatrixTests {
    @Test(arguments: [63, 127])
    func roundTripWithinHalfAStep(maxLevel: Int) {
        var rng = TestRandom(seed: UInt64(maxLevel))
        let o = 37, i = 50
        var w = rng.gaussianish(o * i, scale: 0.05)
        for k in 0..<i { w[5 * i + k] = 0 }  // all zero
        for k in 0..<i { w[6 * i + k] = 3 }  // constant
        w[7 * i + 3] = 1e4  // one outlier
        for k in 0..<i { w[8 * i + k] = k % 2 == 0 ? 1e-30 : -1e-30 }  // tiny
        let m = QuantizedMatrix(w, outFeatures: o, inFeatures: i, maxLevel: maxLevel)
        #expect(m.outFeatures == o && m.inFeatures == i)
        let deq = m.dequantized()
        for r in 0..<o {
            let scale = m.scales[r]
            #expect(scale.isFinite && scale > 0, "row \(r): scale \(scale)")
            var largest = 0, sum = 0
            var worst: Float = 0
            for k in 0..<i {
                let v = Int(m.values[r * i + k])
                largest = max(largest, abs(v))
                sum += v
                worst = max(worst, abs(w[r * i + k] - deq[r * i + k]))
                #expect(deq[r * i + k] == scale * Float(v))
            }
            #expect(largest <= maxLevel, "row \(r): |value| reaches \(largest)")
            let rowIsZero = w[(r * i)..<((r + 1) * i)].allSatisfy { $0 == 0 }
            if !rowIsZero { #expect(largest == maxLevel, "row \(r): largest |value| \(largest), not \(maxLevel)") }
            let bound = scale * 0.5 * (1 + 1e-4)
            #expect(worst <= bound, "row \(r): max |w − dequantized| \(worst), bound \(bound)")
            #expect(Int(m.sums[r]) == Int(sum), "row \(r): sums \(m.sums[r]) vs \(sum)")
        }
        // The all-zero row: zeros throughout and a finite scale.
        #expect((0..<i).allSatisfy { m.values[5 * i + $0] == 0 })
        #expect(deq[(5 * i)..<(6 * i)].allSatisfy { $0 == 0 })
        #expect(m.sums[5] == 0)
    }

    @Test func defaultLevelIsTheCPUsWeightMax() {
        var rng = TestRandom(seed: 11)
        let w = rng.floats(4 * 16)
        let m = QuantizedMatrix(w, outFeatures: 4, inFeatures: 16)
        let largest = (0..<(4 * 16)).map { abs(Int(m.values[$0])) }.max()
        #expect(largest == Int8Support.weightMax)
    }
}

@Suite struct Int8LinearTests {
    static let shapes = [Int8Shape(inFeatures: 384, outFeatures: 1152), Int8Shape(inFeatures: 1536, outFeatures: 384),
                         Int8Shape(inFeatures: 40, outFeatures: 72)]

    /// Against the exact integer reference (the accumulator exactly, the output within 1e-4 of the
    /// largest entry), with and without bias; 1 and 2 threads bitwise identical. The exact
    /// reference (up to 77 × 1536 × 384 products) runs off the cooperative pool.
    @Test(arguments: [1, 3, 16, 77], shapes)
    func matchesExactIntegerReference(rows n: Int, shape: Int8Shape) async throws {
        let i = shape.inFeatures, o = shape.outFeatures
        let (accExact, err, one, two, errNoBias) = try await offPool { () -> (Bool, Double, (out: [Float], acc: [Int32]), (out: [Float], acc: [Int32]), Double) in
            var rng = TestRandom(seed: UInt64(n * 1000 + i + o))
            let x = rng.gaussianish(n * i)
            let w = rng.gaussianish(o * i, scale: 1 / Float(i).squareRoot())
            let bias = rng.floats(o, scale: 0.5)
            let m = QuantizedMatrix(w, outFeatures: o, inFeatures: i)
            let (q, s, z) = quantizeRows(x, rows: n, channels: i)
            let ref = integerReference(q, scale: s, zero: z, m, bias: bias, rows: n)
            let one = int8Linear(q, scale: s, zero: z, m, bias: bias, rows: n, threads: 1)
            let two = int8Linear(q, scale: s, zero: z, m, bias: bias, rows: n, threads: 2)
            let refNoBias = integerReference(q, scale: s, zero: z, m, bias: nil, rows: n)
            let noBias = int8Linear(q, scale: s, zero: z, m, bias: nil, rows: n, threads: 2)
            return (one.acc.map(Int.init) == ref.raw, maxRelativeError(one.out, ref.out), one, two,
                    maxRelativeError(noBias.out, refNoBias.out))
        }
        #expect(accExact, "int32 sums differ from the exact integer products")
        #expect(err <= 1e-4, "n \(n) \(i)→\(o): max error / max |ref| = \(err)")
        #expect(one.out.map(\.bitPattern) == two.out.map(\.bitPattern), "1 and 2 threads differ")
        #expect(one.acc == two.acc)
        #expect(errNoBias <= 1e-4, "n \(n) \(i)→\(o) without bias: \(errNoBias)")
    }

    /// Worst case for `vpmaddubsw` (u8 · s8 pairs summed in int16): activations at 0 and 255 and
    /// weights all at ±weightMax, in runs of the same sign. The int32 sums must be exact, which the
    /// 7-bit weights guarantee on AVX2 CPUs without VNNI. Computed off the cooperative pool; the
    /// checks after.
    @Test func noSaturationAtExtremeValues() async throws {
        guard Int8Support.level != .unavailable else { return }  // the int8 path is not used on this CPU
        let i = 1536, o = 72, maxLevel = Int8Support.weightMax
        let (weightsAtMax, q, z, perThreads) = try await offPool {
            () -> (Bool, [UInt8], [Float], [(threads: Int, mismatches: [String], err: Double)]) in
            // Rows designed to quantize to 0 and 255 only: [0, c] gives zero 0; [−c, 0] gives zero 255;
            // [−c, 2c] gives zero 85.
            let patterns: [(Int) -> Float] = [
                { _ in 1 },  // all 255
                { $0 % 2 == 0 ? 0 : 1 },  // 0, 255, 0, 255, …
                { $0 % 4 < 2 ? 1 : 0 },  // 255, 255, 0, 0, …
                { $0 % 2 == 0 ? -1 : 0 },  // 0, 255, … with zero point 255
                { $0 % 3 == 0 ? -1 : 2 },  // 0, 255, 255, … with zero point 85
                { ($0 / 8) % 2 == 0 ? 0.75 : 0 },  // runs of eight 255s
            ]
            let n = patterns.count
            var x = [Float](repeating: 0, count: n * i)
            for (r, p) in patterns.enumerated() { for k in 0..<i { x[r * i + k] = p(k) } }
            var rng = TestRandom(seed: 99)
            var w = [Float](repeating: 0, count: o * i)
            for c in 0..<o {
                for k in 0..<i {
                    let sign: Float = switch c {
                    case 0: 1
                    case 1: -1
                    case 2: k % 2 == 0 ? 1 : -1
                    case 3: k % 4 < 2 ? 1 : -1
                    case 4: (k / 8) % 2 == 0 ? 1 : -1
                    default: rng.float() < 0 ? -1 : 1
                    }
                    w[c * i + k] = sign
                }
            }
            let m = QuantizedMatrix(w, outFeatures: o, inFeatures: i)
            let weightsAtMax = (0..<(o * i)).allSatisfy { abs(Int(m.values[$0])) == maxLevel }
            let (q, s, z) = quantizeRows(x, rows: n, channels: i)
            let ref = integerReference(q, scale: s, zero: z, m, bias: nil, rows: n)
            var perThreads: [(threads: Int, mismatches: [String], err: Double)] = []
            for threads in [1, 2] {
                let got = int8Linear(q, scale: s, zero: z, m, bias: nil, rows: n, threads: threads)
                var mismatches: [String] = []
                for e in 0..<(n * o) where Int(got.acc[e]) != ref.raw[e] {
                    mismatches.append("[\(e / o), \(e % o)] \(got.acc[e]) vs \(ref.raw[e])")
                }
                perThreads.append((threads, mismatches, maxRelativeError(got.out, ref.out)))
            }
            if Int8Support.level == .int16Pairs {
                // Not asserted: what full 8-bit weights would do on this CPU (why weightMax is 63 here).
                let full = QuantizedMatrix(w, outFeatures: o, inFeatures: i, maxLevel: 127)
                let exact = integerReference(q, scale: s, zero: z, full, bias: nil, rows: n)
                let got = int8Linear(q, scale: s, zero: z, full, bias: nil, rows: n, threads: 1)
                let wrong = (0..<(n * o)).filter { Int(got.acc[$0]) != exact.raw[$0] }.count
                print("[int8] int16Pairs CPU, 8-bit weights: \(wrong) of \(n * o) extreme sums differ from exact (row 0 column 0: \(got.acc[0]) vs \(exact.raw[0]))")
            }
            return (weightsAtMax, q, z, perThreads)
        }
        #expect(weightsAtMax, "weights not all at ±\(maxLevel)")
        #expect(q.allSatisfy { $0 == 0 || $0 == 255 }, "activations not all at 0 or 255")
        #expect(z == [0, 0, 0, 255, 85, 0], "zero points \(z)")
        #expect(q[0..<i].allSatisfy { $0 == 255 })
        for (threads, mismatches, err) in perThreads {
            #expect(mismatches.isEmpty, "threads \(threads): \(mismatches.count) saturated sums, e.g. \(mismatches.prefix(4))")
            #expect(err <= 1e-5, "threads \(threads): output error \(err)")
        }
    }

    @Test(arguments: [1, 2])
    func epiloguesMatchSeparatePasses(threads: Int) async throws {
        let (geluDiff, residualDiff) = try await offPool { () -> (Float, Float) in
            let n = 5, i = 384, o = 200  // o: three whole 64-column slices and an 8-wide one
            var rng = TestRandom(seed: UInt64(40 + threads))
            let x = rng.gaussianish(n * i), w = rng.gaussianish(o * i, scale: 0.1), bias = rng.floats(o)
            let skip = rng.gaussianish(n * o, scale: 3)
            let m = QuantizedMatrix(w, outFeatures: o, inFeatures: i)
            let (q, s, z) = quantizeRows(x, rows: n, channels: i)
            let plain = int8Linear(q, scale: s, zero: z, m, bias: bias, rows: n, threads: threads).out

            var geluRef = [Float](repeating: 0, count: n * o)
            geluForward(&geluRef, plain, count: n * o)
            let gelu = int8Linear(q, scale: s, zero: z, m, bias: bias, rows: n, epilogue: .gelu, threads: threads).out
            let geluDiff = zip(gelu, geluRef).map { abs($0 - $1) }.max() ?? .nan

            let residual = skip.withUnsafeBufferPointer { p in
                int8Linear(q, scale: s, zero: z, m, bias: bias, rows: n, epilogue: .residual(p.baseAddress!), threads: threads).out
            }
            let residualDiff = (0..<(n * o)).map { abs(residual[$0] - (plain[$0] + skip[$0])) }.max() ?? .nan
            return (geluDiff, residualDiff)
        }
        #expect(geluDiff <= 1e-6, "gelu epilogue vs separate GELU: \(geluDiff)")
        #expect(residualDiff <= 1e-6, "residual epilogue vs separate addition: \(residualDiff)")
    }

    /// Quantization error against the fp32 layer on Gaussian-like data: relative Frobenius error below 2 %.
    @Test(arguments: shapes)
    func closeToFP32Linear(shape: Int8Shape) async throws {
        let i = shape.inFeatures, o = shape.outFeatures
        let rel = try await offPool { () -> Double in
            let n = 16
            var rng = TestRandom(seed: UInt64(i * 7 + o))
            let x = rng.gaussianish(n * i), w = rng.gaussianish(o * i, scale: 1 / Float(i).squareRoot())
            let bias = rng.floats(o, scale: 0.1)
            var reference = [Float](repeating: .nan, count: n * o)
            linearForward(&reference, x, w, bias, rows: n, inFeatures: i, outFeatures: o)
            let m = QuantizedMatrix(w, outFeatures: o, inFeatures: i)
            let (q, s, z) = quantizeRows(x, rows: n, channels: i)
            let got = int8Linear(q, scale: s, zero: z, m, bias: bias, rows: n, threads: 2).out
            var num = 0.0, den = 0.0
            for (a, b) in zip(got, reference) {
                num += Double(a - b) * Double(a - b)
                den += Double(b) * Double(b)
            }
            return (num / den).squareRoot()
        }
        print("[int8] \(i)→\(o), weightMax \(Int8Support.weightMax): relative Frobenius error vs fp32 \(rel)")
        #expect(rel < 0.02, "\(i)→\(o): relative Frobenius error \(rel)")
    }
}

/// The scalar product used when oneDNN cannot allocate its buffers gives oneDNN's sums exactly.
@Suite struct Int8FallbackTests {
    @Test func fallbackEqualsTheLibrary() {
        var rng = TestRandom(seed: 7)
        let n = 5, i = 40, o = 72
        let w = rng.gaussianish(o * i)
        let weight = w.withUnsafeBufferPointer { QuantizedMatrix($0.baseAddress!, outFeatures: o, inFeatures: i) }
        let (q, s, z) = quantizeRows(rng.gaussianish(n * i), rows: n, channels: i)
        var library = [Int32](repeating: 0, count: n * o), fallback = [Int32](repeating: -1, count: n * o)
        var out = [Float](repeating: 0, count: n * o)
        int8LinearForward(&out, q, rowScale: s, rowZero: z, weight, nil, accumulator: &library, rows: n)
        integerProductFallback(&fallback, q, weight, rows: n, columns: 0..<o)
        #expect(library == fallback)
    }
}
