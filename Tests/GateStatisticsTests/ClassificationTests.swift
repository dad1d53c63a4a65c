import Foundation
import GateStatistics
import Testing

@Suite struct ClassificationReportTests {
    @Test func matchesTheNumpyReference() throws {
        let g = try Golden.load().classification
        let report = ClassificationReport(labels: g.labelsIn, truth: g.truth, predicted: g.predicted)
        #expect(report.labels == g.labels)
        #expect(report.confusion == g.confusion)
        #expect(isClose(report.accuracy, g.accuracy, rel: 1e-12))
        #expect(isClose(report.macroF1, g.macroF1, rel: 1e-12), "\(report.macroF1) vs \(g.macroF1)")
        #expect(report.perClass.count == g.perClass.count)
        for (m, e) in zip(report.perClass, g.perClass) {
            #expect(m.label == e.label && m.support == e.support && m.predictedCount == e.predictedCount, "\(m)")
            #expect(isClose(m.precision, e.precision, rel: 1e-12), "\(m.label) precision")
            #expect(isClose(m.recall, e.recall, rel: 1e-12), "\(m.label) recall")
            #expect(isClose(m.f1, e.f1, rel: 1e-12), "\(m.label) f1")
        }
    }

    @Test func appendsUnknownLabelsAndSkipsAbsentOnesInMacroF1() {
        let truth = ["a", "a", "b", "c"], predicted = ["a", "b", "b", "d"]
        let report = ClassificationReport(labels: ["b", "a", "zzz"], truth: truth, predicted: predicted)
        #expect(report.labels == ["b", "a", "zzz", "c", "d"])
        // F1: b = 2/3, a = 2/3, c = 0, d = 0; "zzz" occurs nowhere and is left out of the mean.
        #expect(isClose(report.macroF1, (2.0 / 3 + 2.0 / 3) / 4, rel: 1e-15))
        let withoutUnused = ClassificationReport(labels: ["b", "a"], truth: truth, predicted: predicted)
        #expect(withoutUnused.macroF1 == report.macroF1)
        #expect(report.metrics(for: "zzz") == ClassMetrics(label: "zzz", precision: 0, recall: 0, f1: 0, support: 0, predictedCount: 0))
        #expect(report.confusion[3][4] == 1 && report.confusion[1][0] == 1 && report.confusion[1][1] == 1)
    }

    @Test func recallIsNilWithoutSupport() throws {
        let g = try Golden.load().classification
        let report = ClassificationReport(labels: g.labelsIn, truth: g.truth, predicted: g.predicted)
        #expect(report.recall(of: "balance") == 4.0 / 6)
        #expect(report.recall(of: "refund") == 0)       // never predicted: all wrong
        #expect(report.recall(of: "fees") == nil)       // only predicted: no evidence
        #expect(report.metrics(for: "fees")?.recall == 0)
        #expect(report.recall(of: "no such label") == nil)
    }

    @Test func perfectPredictionsScoreOne() {
        let truth = ["x", "y", "y", "z", "x"]
        let report = ClassificationReport(labels: ["x", "y", "z", "w"], truth: truth, predicted: truth)
        #expect(report.accuracy == 1 && report.macroF1 == 1)
        #expect(report.perClass.filter { $0.label != "w" }.allSatisfy { $0.precision == 1 && $0.recall == 1 && $0.f1 == 1 })
    }

    @Test func emptyInputScoresZero() {
        let report = ClassificationReport(labels: ["p", "q"], truth: [], predicted: [])
        #expect(report.labels == ["p", "q"] && report.confusion == [[0, 0], [0, 0]])
        #expect(report.accuracy == 0 && report.macroF1 == 0)
    }

    @Test func ignoresDuplicateLabels() {
        let report = ClassificationReport(labels: ["a", "b", "a"], truth: ["a", "b"], predicted: ["b", "b"])
        #expect(report.labels == ["a", "b"])
        #expect(report.confusion == [[0, 1], [0, 1]])
    }

    @Test func roundTripsThroughJSON() throws {
        let g = try Golden.load().classification
        let report = ClassificationReport(labels: g.labelsIn, truth: g.truth, predicted: g.predicted)
        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(ClassificationReport.self, from: data) == report)
    }
}
