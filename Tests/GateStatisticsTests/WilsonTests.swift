import GateStatistics
import Testing

@Suite struct WilsonTests {
    @Test func matchesScipyProportionCI() throws {
        let golden = try Golden.load().wilson
        #expect(golden.count >= 24)
        for g in golden {
            let i = Wilson.interval(successes: g.k, trials: g.n, confidence: g.confidence)
            let label = "\(g.k)/\(g.n) at \(g.confidence): \(i)"
            #expect(i.estimate == g.estimate, "\(label)")
            #expect(isClose(i.lower, g.lower, rel: 1e-9, abs: 1e-15), "\(label) vs \(g.lower)")
            #expect(isClose(i.upper, g.upper, rel: 1e-9), "\(label) vs \(g.upper)")
        }
    }

    @Test func staysInsideTheUnitIntervalAndAroundTheEstimate() {
        for n in [1, 2, 5, 17, 100, 1_001] {
            for k in Set([0, 1, n / 3, n / 2, n - 1, n]) where k >= 0 && k <= n {
                for confidence in [0.5, 0.9, 0.95, 0.999] {
                    let i = Wilson.interval(successes: k, trials: n, confidence: confidence)
                    #expect(0 <= i.lower && i.lower <= i.estimate && i.estimate <= i.upper && i.upper <= 1,
                            "\(k)/\(n) at \(confidence): \(i)")
                }
            }
        }
        #expect(Wilson.interval(successes: 0, trials: 10).lower == 0)
        #expect(Wilson.interval(successes: 10, trials: 10).upper == 1)
    }

    @Test func widensWithConfidenceAndNarrowsWithTrials() {
        let base = Wilson.interval(successes: 37, trials: 50)
        #expect(Wilson.interval(successes: 37, trials: 50, confidence: 0.99).width > base.width)
        #expect(Wilson.interval(successes: 370, trials: 500).width < base.width)
    }

    @Test func noTrialsIsTheWholeRange() {
        #expect(Wilson.interval(successes: 0, trials: 0) == Interval(estimate: 0, lower: 0, upper: 1))
    }
}
