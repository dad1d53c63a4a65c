import Foundation
import IntentKernels
import IntentTestSupport
import Testing

@Suite struct ForwardKernelTests {
    @Test func geluMatchesExactErfGELU() {
        var xs: [Float] = stride(from: -8, through: 8, by: 0.001).map { Float($0) }
        xs += [0, -0, 1e-8, -1e-8, 30, -30]
        var out = [Float](repeating: 0, count: xs.count)
        geluForward(&out, xs, count: xs.count)
        var worst: Double = 0
        for (x, y) in zip(xs, out) {
            let ref = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            worst = max(worst, abs(Double(y) - ref))
        }
        #expect(worst < 1e-6, "max abs error \(worst)")
    }

    @Test func linearMatchesNaiveProduct() {
        var rng = TestRandom(seed: 1)
        let n = 5, i = 7, o = 3
        let x = rng.floats(n * i), w = rng.floats(o * i), b = rng.floats(o)
        var out = [Float](repeating: 0, count: n * o)
        linearForward(&out, x, w, b, rows: n, inFeatures: i, outFeatures: o)
        for r in 0..<n {
            for c in 0..<o {
                var ref = b[c]
                for k in 0..<i { ref += x[r * i + k] * w[c * i + k] }
                #expect(abs(out[r * o + c] - ref) < 1e-5)
            }
        }
    }

    /// Packed attention equals padded attention with a mask, computed naively per sequence.
    @Test func packedAttentionMatchesNaiveMaskedAttention() {
        var rng = TestRandom(seed: 2)
        let c = 8, h = 2, d = 4
        let lengths = [3, 1, 5]
        let starts = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
        let n = starts.last!
        let qkv = rng.floats(n * 3 * c)
        var out = [Float](repeating: 0, count: n * c)
        var probs = [Float](repeating: 0, count: attentionProbsCount(starts: starts, sequences: 3, heads: h))
        attentionForward(&out, probs: &probs, qkv, starts: starts, sequences: 3, heads: h, channels: c)
        for s in 0..<3 {
            for head in 0..<h {
                for i in starts[s]..<starts[s + 1] {
                    var scores: [Double] = []
                    for j in starts[s]..<starts[s + 1] {
                        var dotp = 0.0
                        for t in 0..<d { dotp += Double(qkv[i * 3 * c + head * d + t] * qkv[j * 3 * c + c + head * d + t]) }
                        scores.append(dotp / Double(d).squareRoot())
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let sum = e.reduce(0, +)
                    for t in 0..<d {
                        var ref = 0.0
                        for (k, j) in (starts[s]..<starts[s + 1]).enumerated() { ref += e[k] / sum * Double(qkv[j * 3 * c + 2 * c + head * d + t]) }
                        #expect(abs(Double(out[i * c + head * d + t]) - ref) < 1e-5)
                    }
                }
            }
        }
    }

    @Test func meanPoolAndNormalize() {
        let hidden: [Float] = [1, 2, 3, 4, 10, 20]
        var out = [Float](repeating: 0, count: 4)
        meanPoolForward(&out, hidden, starts: [0, 2, 3], sequences: 2, channels: 2)
        #expect(out == [2, 3, 10, 20])
        l2NormalizeRows(&out, rows: 2, channels: 2)
        #expect(abs(out[0] * out[0] + out[1] * out[1] - 1) < 1e-6)
    }
}

/// Analytic gradients against central finite differences (two forward passes per entry), computed
/// off the cooperative pool; the checks stay in the test bodies.
@Suite struct BackwardKernelTests {
    @Test func linearBackwardMatchesFiniteDifferences() async throws {
        let (dx, dw, db, numeric) = try await offPool { () -> ([Float], [Float], [Float], (x: [Float], w: [Float], b: [Float])) in
            var rng = TestRandom(seed: 3)
            let n = 4, i = 5, o = 3
            var x = rng.floats(n * i), w = rng.floats(o * i), b = rng.floats(o)
            let probe = rng.floats(n * o)
            var dx = [Float](repeating: 0, count: n * i), dw = [Float](repeating: 0, count: o * i), db = [Float](repeating: 0, count: o)
            linearBackward(dinp: &dx, dweight: &dw, dbias: &db, dout: probe, inp: x, weight: w, rows: n, inFeatures: i, outFeatures: o)
            func run(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
                var out = [Float](repeating: 0, count: n * o)
                linearForward(&out, x, w, b, rows: n, inFeatures: i, outFeatures: o)
                return out
            }
            let wCopy = w, bCopy = b, xCopy = x
            let nx = numericGradient(of: &x, probe: probe) { run($0, wCopy, bCopy) }
            let nw = numericGradient(of: &w, probe: probe) { run(xCopy, $0, bCopy) }
            let nb = numericGradient(of: &b, probe: probe) { run(xCopy, wCopy, $0) }
            return (dx, dw, db, (nx, nw, nb))
        }
        #expect(relativeError(dx, numeric.x) < 1e-3)
        #expect(relativeError(dw, numeric.w) < 1e-3)
        #expect(relativeError(db, numeric.b) < 1e-3)
    }

    @Test func layerNormBackwardMatchesFiniteDifferences() async throws {
        let (dx, dw, db, numeric) = try await offPool { () -> ([Float], [Float], [Float], (x: [Float], w: [Float], b: [Float])) in
            var rng = TestRandom(seed: 4)
            let n = 3, c = 6
            var x = rng.floats(n * c, scale: 2), w = rng.floats(c), b = rng.floats(c)
            let probe = rng.floats(n * c)
            var mean = [Float](repeating: 0, count: n), rstd = [Float](repeating: 0, count: n)
            var out = [Float](repeating: 0, count: n * c)
            layerNormForward(&out, mean: &mean, rstd: &rstd, x, weight: w, bias: b, rows: n, channels: c, eps: 1e-5)
            var dx = [Float](repeating: 0, count: n * c), dw = [Float](repeating: 0, count: c), db = [Float](repeating: 0, count: c)
            layerNormBackward(dinp: &dx, dweight: &dw, dbias: &db, dout: probe, inp: x, weight: w, mean: mean, rstd: rstd, rows: n, channels: c)
            func run(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
                var out = [Float](repeating: 0, count: n * c)
                layerNormForward(&out, mean: nil, rstd: nil, x, weight: w, bias: b, rows: n, channels: c, eps: 1e-5)
                return out
            }
            let wCopy = w, bCopy = b, xCopy = x
            let nx = numericGradient(of: &x, probe: probe, eps: 1e-3) { run($0, wCopy, bCopy) }
            let nw = numericGradient(of: &w, probe: probe) { run(xCopy, $0, bCopy) }
            let nb = numericGradient(of: &b, probe: probe) { run(xCopy, wCopy, $0) }
            return (dx, dw, db, (nx, nw, nb))
        }
        #expect(relativeError(dx, numeric.x) < 5e-3)
        #expect(relativeError(dw, numeric.w) < 1e-3)
        #expect(relativeError(db, numeric.b) < 1e-3)
    }

    @Test func geluBackwardMatchesFiniteDifferences() async throws {
        let (dx, numeric) = try await offPool { () -> ([Float], [Float]) in
            var rng = TestRandom(seed: 5)
            var x = rng.floats(40, scale: 4)
            let probe = rng.floats(40)
            var dx = [Float](repeating: 0, count: 40)
            geluBackward(dinp: &dx, dout: probe, inp: x, count: 40)
            let numeric = numericGradient(of: &x, probe: probe, eps: 1e-3) { x in
                var out = [Float](repeating: 0, count: x.count)
                geluForward(&out, x, count: x.count)
                return out
            }
            return (dx, numeric)
        }
        #expect(relativeError(dx, numeric) < 2e-3)
    }

    /// With and without attention-probability dropout (a fixed mask of zeros and 1/(1−p)).
    @Test(arguments: [false, true])
    func attentionBackwardMatchesFiniteDifferences(dropout: Bool) async throws {
        let (mask, dqkv, numeric) = try await offPool { () -> ([Float], [Float], [Float]) in
            var rng = TestRandom(seed: 6)
            let c = 8, h = 2
            let starts = [0, 3, 4, 8]
            let n = 8
            var qkv = rng.floats(n * 3 * c)
            let probe = rng.floats(n * c)
            let probsCount = attentionProbsCount(starts: starts, sequences: 3, heads: h)
            var mask = [Float](repeating: 0, count: probsCount)
            var generator = SplitMix64(seed: 60)
            dropoutMask(&mask, count: probsCount, probability: 0.3, generator: &generator)
            func run(_ qkv: [Float], probs: inout [Float]) -> [Float] {
                var out = [Float](repeating: 0, count: n * c)
                if dropout {
                    attentionForward(&out, probs: &probs, qkv, starts: starts, sequences: 3, heads: h, channels: c, dropMask: mask)
                } else {
                    attentionForward(&out, probs: &probs, qkv, starts: starts, sequences: 3, heads: h, channels: c)
                }
                return out
            }
            var probs = [Float](repeating: 0, count: probsCount)
            _ = run(qkv, probs: &probs)
            var dqkv = [Float](repeating: 0, count: n * 3 * c)
            var scratch = [Float](repeating: 0, count: 8)
            attentionBackward(dqkv: &dqkv, dout: probe, qkv: qkv, probs: probs, scratch: &scratch, starts: starts, sequences: 3, heads: h,
                              channels: c, dropMask: dropout ? mask : nil)
            let numeric = numericGradient(of: &qkv, probe: probe, eps: 1e-3) { q in
                var p = [Float](repeating: 0, count: probsCount)
                return run(q, probs: &p)
            }
            return (mask, dqkv, numeric)
        }
        #expect(mask.contains(0) && mask.contains { $0 > 1 })
        #expect(relativeError(dqkv, numeric) < 2e-3)
    }

    @Test func poolingBackwardMatchesFiniteDifferences() async throws {
        let (dh, numeric, dc, probe) = try await offPool { () -> ([Float], [Float], [Float], [Float]) in
            var rng = TestRandom(seed: 7)
            let starts = [0, 2, 5], c = 3
            var hidden = rng.floats(5 * c)
            let probe = rng.floats(2 * c)
            var dh = [Float](repeating: 0, count: 5 * c)
            meanPoolBackward(dhidden: &dh, dout: probe, starts: starts, sequences: 2, channels: c)
            let numeric = numericGradient(of: &hidden, probe: probe) { x in
                var out = [Float](repeating: 0, count: 2 * c)
                meanPoolForward(&out, x, starts: starts, sequences: 2, channels: c)
                return out
            }
            var dc = [Float](repeating: 0, count: 5 * c)
            clsPoolBackward(dhidden: &dc, dout: probe, starts: starts, sequences: 2, channels: c)
            return (dh, numeric, dc, probe)
        }
        #expect(relativeError(dh, numeric) < 1e-3)
        #expect(Array(dc[0..<3]) == Array(probe[0..<3]) && Array(dc[6..<9]) == Array(probe[3..<6]))
    }
}

@Suite struct PackedLinearTests {
    @Test(arguments: [1, 3, 4, 5, 11], [1, 2])
    func packedKernelMatchesSgemm(rows n: Int, threads: Int) {
        var rng = TestRandom(seed: UInt64(n * 10 + threads))
        let i = 24, o = 37  // o is not a multiple of the 16-wide tile
        let x = rng.floats(n * i), w = rng.floats(o * i), b = rng.floats(o)
        var packed = [Float](repeating: .nan, count: packedWeightCount(inFeatures: i, outFeatures: o))
        packWeight(&packed, w, inFeatures: i, outFeatures: o)
        var reference = [Float](repeating: 0, count: n * o), got = [Float](repeating: .nan, count: n * o)
        linearForward(&reference, x, w, b, rows: n, inFeatures: i, outFeatures: o)
        packedLinearForward(&got, x, packed: packed, b, rows: n, inFeatures: i, outFeatures: o, threads: threads)
        #expect(relativeError(got, reference) < 1e-5)
        packedLinearForward(&got, x, packed: packed, nil, rows: n, inFeatures: i, outFeatures: o, threads: threads)
        linearForward(&reference, x, w, nil, rows: n, inFeatures: i, outFeatures: o)
        #expect(relativeError(got, reference) < 1e-5)
    }
}
