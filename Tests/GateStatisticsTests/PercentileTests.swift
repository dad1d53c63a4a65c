import GateStatistics
import Testing

@Suite struct PercentileTests {
    @Test func matchesNumpyPercentile() throws {
        let golden = try Golden.load().percentile
        var interpolated = 0
        for g in golden {
            for (q, expected) in zip(g.q, g.values) {
                let value = PairedBootstrap.percentile(g.sorted, q)
                // Bit for bit: the same operations in the same order as numpy (JSONDecoder reads the
                // shortest round-trip decimals Python writes back to the same doubles).
                #expect(value == expected, "q = \(q) of \(g.sorted.count) values: \(value) vs numpy \(expected)")
                if !g.sorted.contains(expected) { interpolated += 1 }
            }
        }
        #expect(interpolated > 20)  // the goldens exercise interpolation, not only order statistics
    }

    @Test func hitsTheEndsAndOrderStatistics() {
        let a = [-1.0, 0.5, 2.0, 2.0, 9.0]
        #expect(PairedBootstrap.percentile(a, 0) == -1)
        #expect(PairedBootstrap.percentile(a, 100) == 9)
        #expect(PairedBootstrap.percentile(a, 25) == 0.5)
        #expect(PairedBootstrap.percentile(a, 50) == 2)
        #expect(PairedBootstrap.percentile(a, 87.5) == 5.5)
        #expect(PairedBootstrap.percentile([4], 37) == 4)
    }

    @Test func isMonotoneInQ() {
        let a = [-3.0, -1.0, 0.0, 0.25, 0.5, 8.0, 100.0]
        var previous = -Double.infinity
        for q in stride(from: 0.0, through: 100.0, by: 0.5) {
            let value = PairedBootstrap.percentile(a, q)
            #expect(value >= previous)
            previous = value
        }
    }
}
