import GateStatistics
import Testing

/// Invalid arguments are programming errors: they stop the process (exit tests run them in a child).
@Suite struct PreconditionTests {
    @Test func negativeCountsTrap() async {
        await #expect(processExitsWith: .failure) { _ = McNemar.test(candidateOnly: -1, baselineOnly: 3) }
    }

    @Test func mismatchedPairsTrap() async {
        await #expect(processExitsWith: .failure) { _ = McNemar.test(candidate: [true], baseline: []) }
        await #expect(processExitsWith: .failure) {
            _ = PairedBootstrap.accuracyDifference(candidate: [true, false], baseline: [true])
        }
    }

    @Test func outOfRangeArgumentsTrap() async {
        await #expect(processExitsWith: .failure) { _ = Wilson.interval(successes: 11, trials: 10) }
        await #expect(processExitsWith: .failure) { _ = PairedBootstrap.percentile([], 50) }
        await #expect(processExitsWith: .failure) { _ = PairedBootstrap.percentile([1, 2], 100.5) }
        await #expect(processExitsWith: .failure) {
            _ = PairedBootstrap.macroF1Interval(truth: [0, 3], predicted: [0, 1], classes: 3)
        }
    }
}
