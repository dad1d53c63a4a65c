import Foundation
import GateStatistics
import IntentTestSupport
import Testing

@Suite struct PairedBootstrapTests {
    /// Monte-Carlo tolerance for the accuracy-difference interval against numpy's (different random
    /// streams, 20,000 resamples each). Every resampled difference is a multiple of 1/n, so both
    /// interval ends land on that grid; they can differ by one step when the true 2.5 % point sits
    /// near a step. Two steps would need the empirical CDF at the end to be off by a grid point's
    /// whole mass, ≈ (1/n)·φ(1.96)/σ ≈ 0.014 for this table (σ ≈ 0.0137, the bootstrap SD), against a
    /// standard error of √(2·0.025·0.975/20,000) ≈ 0.0016 for the difference of the two CDFs: ~9 SE.
    static func accuracyTolerance(items n: Int) -> Double { 1 / Double(n) + 1e-12 }

    // The bootstraps of the larger tests (tens of thousands of resamples) run off the cooperative
    // pool (`offPool`); the checks stay in the test bodies.

    @Test func accuracyDifferenceMatchesNumpy() async throws {
        let g = try Golden.load().pairedBootstrap
        let candidate = g.candidate.map { $0 == 1 }, baseline = g.baseline.map { $0 == 1 }
        #expect(candidate.count == 300)
        let tolerance = Self.accuracyTolerance(items: candidate.count)
        let (intervals, quick) = try await offPool {
            (g.intervals.map { expected in
                PairedBootstrap.accuracyDifference(candidate: candidate, baseline: baseline,
                                                   resamples: g.resamples, confidence: expected.confidence)
            },
             PairedBootstrap.accuracyDifference(candidate: candidate, baseline: baseline))
        }
        for (expected, i) in zip(g.intervals, intervals) {
            #expect(isClose(i.estimate, g.estimate, rel: 1e-12), "\(i.estimate) vs \(g.estimate)")
            #expect(abs(i.lower - expected.lower) <= tolerance, "\(i) vs numpy \(expected)")
            #expect(abs(i.upper - expected.upper) <= tolerance, "\(i) vs numpy \(expected)")
        }
        // The default 2,000 resamples: the CDF's standard error grows to ≈ 0.0037, still ~4 SE short of
        // a two-step miss; the seed is fixed, so this either always passes or always fails.
        let numpy95 = try #require(g.intervals.first { $0.confidence == 0.95 })
        #expect(abs(quick.lower - numpy95.lower) <= tolerance && abs(quick.upper - numpy95.upper) <= tolerance,
                "\(quick) vs numpy \(numpy95)")
    }

    @Test func macroF1MatchesNumpy() async throws {
        let g = try Golden.load().macroF1Bootstrap
        let intervals = try await offPool {
            g.intervals.map { expected in
                PairedBootstrap.macroF1Interval(truth: g.truth, predicted: g.predicted, classes: g.classes,
                                                resamples: g.resamples, confidence: expected.confidence)
            }
        }
        for (expected, i) in zip(g.intervals, intervals) {
            #expect(isClose(i.estimate, g.estimate, rel: 1e-12), "\(i.estimate) vs \(g.estimate)")
            // Macro-F1 takes many values, so the ends behave like quantiles of a continuous law: the
            // standard error of a percentile estimated from B resamples is √(q(1 − q)/B)/φ(z_q)·σ
            // (normal approximation, σ the bootstrap SD); the two independent estimates differ by
            // √2 times that. Five such standard errors (≈ 0.0036 here).
            let q = (1 - expected.confidence) / 2
            let z = Normal.quantile(q)
            let density = exp(-z * z / 2) / (2 * Double.pi).squareRoot()
            let se = (q * (1 - q) / Double(g.resamples)).squareRoot() / density * g.bootstrapSd
            let tolerance = 5 * 2.0.squareRoot() * se
            #expect(tolerance > 0.002 && tolerance < 0.005)
            #expect(abs(i.lower - expected.lower) <= tolerance, "\(i) vs numpy \(expected), tolerance \(tolerance)")
            #expect(abs(i.upper - expected.upper) <= tolerance, "\(i) vs numpy \(expected), tolerance \(tolerance)")
        }
    }

    @Test func macroF1EstimateIsTheReportsMacroF1() throws {
        let g = try Golden.load().macroF1Bootstrap
        let names = (0..<g.classes).map { "class \($0)" }
        let report = ClassificationReport(labels: names, truth: g.truth.map { names[$0] }, predicted: g.predicted.map { names[$0] })
        let i = PairedBootstrap.macroF1Interval(truth: g.truth, predicted: g.predicted, classes: g.classes, resamples: 10)
        #expect(i.estimate == report.macroF1)
    }

    @Test func isDeterministicForASeed() throws {
        let g = try Golden.load().pairedBootstrap
        let candidate = g.candidate.map { $0 == 1 }, baseline = g.baseline.map { $0 == 1 }
        let a = PairedBootstrap.accuracyDifference(candidate: candidate, baseline: baseline, seed: 42)
        let b = PairedBootstrap.accuracyDifference(candidate: candidate, baseline: baseline, seed: 42)
        #expect(a == b)
        let mean: (UnsafeBufferPointer<Int>) -> Double = { idx in Double(idx.reduce(0) { $0 + g.candidate[$1] }) / Double(idx.count) }
        let first = PairedBootstrap.replicates(count: 300, resamples: 50, seed: 7, statistic: mean)
        #expect(first == PairedBootstrap.replicates(count: 300, resamples: 50, seed: 7, statistic: mean))
        let other = PairedBootstrap.replicates(count: 300, resamples: 50, seed: 8, statistic: mean)
        #expect(first != other)
        #expect(Set(first).count > 10)
    }

    @Test func agreesWithTheGenericInterval() throws {
        let g = try Golden.load().pairedBootstrap
        let candidate = g.candidate.map { $0 == 1 }, baseline = g.baseline.map { $0 == 1 }
        let d = zip(g.candidate, g.baseline).map { $0 - $1 }
        for seed: UInt64 in [1, 99] {
            let direct = PairedBootstrap.accuracyDifference(candidate: candidate, baseline: baseline, resamples: 500,
                                                            confidence: 0.9, seed: seed)
            let generic = PairedBootstrap.interval(count: d.count, resamples: 500, confidence: 0.9, seed: seed) { idx in
                Double(idx.reduce(0) { $0 + d[$1] }) / Double(idx.count)
            }
            #expect(direct.lower == generic.lower && direct.upper == generic.upper, "\(direct) vs \(generic)")
            #expect(isClose(direct.estimate, generic.estimate, rel: 1e-12))
        }
    }

    @Test func containsTheEstimate() async throws {
        let g = try Golden.load().pairedBootstrap
        let candidate = g.candidate.map { $0 == 1 }, baseline = g.baseline.map { $0 == 1 }
        let intervals = try await offPool {
            [UInt64(1), 2, 3].map { seed in PairedBootstrap.accuracyDifference(candidate: candidate, baseline: baseline, seed: seed) }
        }
        for i in intervals {
            #expect(i.lower < i.estimate && i.estimate < i.upper, "\(i)")
        }
    }

    @Test func drawsIndicesUniformly() async throws {
        // The share of draws equal to each index, over 10,000 resamples of 10: each ≈ 0.1, with a
        // standard error of √(0.1·0.9/100,000) ≈ 0.00095.
        let draws = try await offPool { () -> [(inRange: Bool, shares: [Double])] in
            (0..<10).map { target in
                var inRange = true
                let shares = PairedBootstrap.replicates(count: 10, resamples: 10_000, seed: UInt64(target)) { idx in
                    inRange = inRange && idx.count == 10 && idx.allSatisfy { (0..<10).contains($0) }
                    return Double(idx.filter { $0 == target }.count) / 10
                }
                return (inRange, shares)
            }
        }
        for (target, (inRange, shares)) in draws.enumerated() {
            // (An #expect inside the statistic's closure crashes the 6.3.1 compiler's SendNonSendable
            // pass; it would run on the dedicated thread anyway.)
            #expect(inRange)
            let mean = shares.reduce(0, +) / Double(shares.count)
            #expect(abs(mean - 0.1) < 0.004, "index \(target): \(mean)")
        }
    }

    @Test func equalModelsGiveAZeroInterval() {
        let outcomes = (0..<500).map { $0 % 3 != 0 }
        #expect(PairedBootstrap.accuracyDifference(candidate: outcomes, baseline: outcomes) == Interval(estimate: 0, lower: 0, upper: 0))
        let allRight = [Bool](repeating: true, count: 40)
        #expect(PairedBootstrap.accuracyDifference(candidate: allRight, baseline: allRight) == Interval(estimate: 0, lower: 0, upper: 0))
    }

    @Test func aDominantCandidateHasAPositiveInterval() {
        // The candidate fixes 60 of 400 items and breaks none: every resample is positive.
        let baseline = (0..<400).map { $0 % 10 < 7 }
        let candidate = (0..<400).map { $0 % 10 < 7 || (7..<10).contains($0 % 20) }
        let i = PairedBootstrap.accuracyDifference(candidate: candidate, baseline: baseline)
        #expect(isClose(i.estimate, 0.15, rel: 1e-12))
        #expect(i.lower > 0.1 && i.upper < 0.2)
    }

    @Test func emptyInputIsAZeroInterval() {
        #expect(PairedBootstrap.accuracyDifference(candidate: [], baseline: []) == Interval(estimate: 0, lower: 0, upper: 0))
        #expect(PairedBootstrap.macroF1Interval(truth: [], predicted: [], classes: 3) == Interval(estimate: 0, lower: 0, upper: 0))
        // No items, so no labels either (a comparison over an empty source asks exactly this).
        #expect(PairedBootstrap.macroF1Interval(truth: [], predicted: [], classes: 0) == Interval(estimate: 0, lower: 0, upper: 0))
    }

    @Test func handlesAGateSizedTable() async throws {
        // 5,000 items × 2,000 resamples (10⁷ draws); no allocation per resample.
        let baseline = (0..<5_000).map { ($0 * 7919) % 100 < 80 }
        let candidate = (0..<5_000).map { ($0 * 7919) % 100 < 82 }
        // Timed on the dedicated thread itself, so waiting for it to start is not counted.
        let (i, elapsed) = try await offPool { () -> (Interval, Duration) in
            let start = ContinuousClock.now
            let i = PairedBootstrap.accuracyDifference(candidate: candidate, baseline: baseline)
            return (i, ContinuousClock.now - start)
        }
        #expect(isClose(i.estimate, 0.02, rel: 1e-9))
        #expect(i.lower > 0.015 && i.upper < 0.025 && i.contains(0.02), "\(i)")
        #expect(elapsed < .seconds(20), "took \(elapsed)")  // a hang guard, not a benchmark (~0.3 s here)
    }
}

@Suite struct SplitMix64Tests {
    @Test func matchesTheReferenceStream() throws {
        let g = try Golden.load().splitmix64
        var rng = SplitMix64(seed: g.seed)
        #expect((0..<g.outputs.count).map { _ in rng.next() } == g.outputs)
    }
}
