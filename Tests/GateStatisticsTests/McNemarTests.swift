import Foundation
import GateStatistics
import Testing

@Suite struct McNemarTests {
    @Test func matchesScipyBinomtest() throws {
        let golden = try Golden.load()
        #expect(golden.mcnemar.count >= 20)
        for g in golden.mcnemar {
            let r = McNemar.test(candidateOnly: g.b, baselineOnly: g.c)
            #expect(r.candidateOnly == g.b && r.baselineOnly == g.c && r.exact, "b = \(g.b), c = \(g.c)")
            #expect(isClose(r.pValue, g.p, rel: 1e-9), "b = \(g.b), c = \(g.c): \(r.pValue) vs scipy \(g.p)")
        }
    }

    @Test func hasTheExactSmallValues() {
        // 2·P(X ≤ 3), X ~ Bin(15, ½) = 2·(1 + 15 + 105 + 455)/2¹⁵, every step exact in binary.
        #expect(McNemar.test(candidateOnly: 3, baselineOnly: 12).pValue == 2.0 * 576 / 32768)
        #expect(McNemar.test(candidateOnly: 0, baselineOnly: 10).pValue == 0x1p-9)
        #expect(McNemar.test(candidateOnly: 0, baselineOnly: 0).pValue == 1)
    }

    @Test func approximatesAboveTheExactLimit() throws {
        for g in try Golden.load().mcnemarApproximate {
            #expect(g.b + g.c > McNemar.exactLimit)
            let r = McNemar.test(candidateOnly: g.b, baselineOnly: g.c)
            #expect(!r.exact)
            #expect(isClose(r.pValue, g.p, rel: 1e-6), "b = \(g.b), c = \(g.c): \(r.pValue) vs exact \(g.p)")
        }
        // At the limit itself the test is still exact.
        #expect(McNemar.test(candidateOnly: 4_999_000, baselineOnly: 5_001_000).exact)
    }

    @Test func isSymmetricInTheDiscordantCounts() {
        for b in [0, 1, 2, 7, 30, 250, 9_000] {
            for c in [0, 3, 8, 31, 260, 9_100] {
                #expect(McNemar.test(candidateOnly: b, baselineOnly: c).pValue
                    == McNemar.test(candidateOnly: c, baselineOnly: b).pValue, "b = \(b), c = \(c)")
            }
        }
    }

    @Test func isOneWhenTheModelsTie() {
        for b in [0, 1, 4, 50, 777, 123_456, 20_000_000] {
            #expect(McNemar.test(candidateOnly: b, baselineOnly: b).pValue == 1)
        }
    }

    @Test func fallsAsTheImbalanceGrowsAtFixedDiscordantCount() {
        for n in [41, 200, 100_001] {
            var previous = McNemar.test(candidateOnly: n / 2, baselineOnly: n - n / 2).pValue
            #expect(previous == 1)
            let step = max(1, Int(Double(n).squareRoot() / 20))  // 60 steps: from p = 1 down to ~1e−8
            for b in stride(from: n / 2 - 1, through: max(0, n / 2 - 60 * step), by: -step) {
                let p = McNemar.test(candidateOnly: b, baselineOnly: n - b).pValue
                #expect(p < previous || (previous == 1 && p == 1), "n = \(n), b = \(b): \(p) after \(previous)")
                previous = p
            }
            #expect(previous < 0.5)
        }
    }

    @Test func countsTheDiscordantPairs() {
        let candidate = [true, true, false, false, true, true, false, true]
        let baseline = [true, false, true, false, false, false, true, true]
        let r = McNemar.test(candidate: candidate, baseline: baseline)
        #expect(r.candidateOnly == 3 && r.baselineOnly == 2 && r.discordant == 5)
        #expect(r == McNemar.test(candidateOnly: 3, baselineOnly: 2))
        #expect(McNemar.test(candidate: [], baseline: []).pValue == 1)
    }

    @Test func resultRoundTripsThroughJSON() throws {
        let r = McNemar.test(candidateOnly: 25, baselineOnly: 40)
        let data = try JSONEncoder().encode(r)
        #expect(try JSONDecoder().decode(McNemarResult.self, from: data) == r)
    }
}

@Suite struct MinimumDetectableDifferenceTests {
    @Test func matchesBrentqOnConnorsFormula() throws {
        let golden = try Golden.load().mdd
        #expect(golden.contains { $0.delta == nil } && golden.contains { $0.delta != nil })
        for g in golden {
            let delta = McNemar.minimumDetectableDifference(pairs: g.n, discordantRate: g.psi, alpha: g.alpha, power: g.power)
            if let expected = g.delta {
                let d = try #require(delta, "n = \(g.n), ψ = \(g.psi)")
                #expect(isClose(d, expected, rel: 1e-9), "n = \(g.n), ψ = \(g.psi): \(d) vs \(expected)")
            } else {
                #expect(delta == nil, "n = \(g.n), ψ = \(g.psi)")
            }
        }
    }

    @Test func satisfiesConnorsFormula() throws {
        for (n, psi) in [(500, 0.2), (3_000, 0.08), (40_000, 0.01)] {
            let d = try #require(McNemar.minimumDetectableDifference(pairs: n, discordantRate: psi))
            let za = Normal.quantile(0.975), zb = Normal.quantile(0.8)
            let root = za * psi.squareRoot() + zb * (psi - d * d).squareRoot()
            #expect(isClose(root * root / (d * d), Double(n), rel: 1e-10))
            #expect(d > 0 && d <= psi)
        }
    }

    @Test func shrinksWithMorePairsAndGrowsWithPower() throws {
        let small = try #require(McNemar.minimumDetectableDifference(pairs: 400, discordantRate: 0.1))
        let large = try #require(McNemar.minimumDetectableDifference(pairs: 1_600, discordantRate: 0.1))
        #expect(large < small)
        // Roughly halves when n quadruples (δ ∝ 1/√n for small δ).
        #expect(abs(large / small - 0.5) < 0.05)
        let strict = try #require(McNemar.minimumDetectableDifference(pairs: 400, discordantRate: 0.1, alpha: 0.01, power: 0.9))
        #expect(strict > small)
    }

    @Test func isNilWithoutEvidence() {
        #expect(McNemar.minimumDetectableDifference(pairs: 0, discordantRate: 0.2) == nil)
        #expect(McNemar.minimumDetectableDifference(pairs: 1_000, discordantRate: 0) == nil)
        #expect(McNemar.minimumDetectableDifference(pairs: 10, discordantRate: 0.05) == nil)
        #expect(McNemar.minimumDetectableDifference(pairs: 1_000, discordantRate: 0.05) != nil)
    }
}
