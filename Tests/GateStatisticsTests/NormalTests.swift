import GateStatistics
import Testing

@Suite struct NormalTests {
    @Test func cdfMatchesScipyNdtr() throws {
        for g in try Golden.load().normalCdf {
            #expect(isClose(Normal.cdf(g.x), g.cdf, rel: 1e-12), "Φ(\(g.x)) = \(Normal.cdf(g.x)) vs \(g.cdf)")
        }
    }

    @Test func quantileMatchesScipyNdtri() throws {
        let golden = try Golden.load().normalQuantile
        #expect(golden.contains { $0.p < 1e-100 } && golden.contains { $0.p > 1 - 1e-12 })
        for g in golden {
            #expect(isClose(Normal.quantile(g.p), g.x, rel: 1e-12), "Φ⁻¹(\(g.p)) = \(Normal.quantile(g.p)) vs \(g.x)")
        }
    }

    @Test func quantileInvertsTheCDF() {
        // Up to x = 4 only: above it Φ(x) is within 1e−4 of 1, where a Double holds too few of its
        // digits for the round trip (the upper tail is covered by antisymmetry below).
        for x in stride(from: -30.0, through: 4.0, by: 0.37) {
            #expect(isClose(Normal.quantile(Normal.cdf(x)), x, rel: 1e-9, abs: 1e-12), "x = \(x)")
        }
        #expect(Normal.quantile(0.5) == 0)
        #expect(Normal.quantile(0) == -.infinity && Normal.quantile(1) == .infinity)
        #expect(isClose(Normal.quantile(0.975), 1.959963984540054, rel: 1e-14))
    }

    @Test func quantileIsAntisymmetric() {
        // Dyadic p, so that 1 − p is exact and both sides ask for the same tail probability.
        for p in [0x1p-40, 0x1p-20, 0x1p-10, 0x1p-6, 3 * 0x1p-7, 0.125, 0.25, 0.375, 0.46875] {
            #expect(isClose(Normal.quantile(1 - p), -Normal.quantile(p), rel: 1e-9), "p = \(p)")
        }
    }
}
