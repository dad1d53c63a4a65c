import Foundation
import Testing

@testable import SVGCharts

@Suite struct LineChartTests {
    typealias P = LineChart.Point

    static let weekly = LineChart(
        title: "Accuracy by week",
        series: [
            .init(name: "production", points: (1...8).map { P(x: Double($0), y: 0.80 + Double($0) * 0.01) }),
            .init(name: "candidate", points: (1...8).map { P(x: Double($0), y: 0.78 + Double($0 * $0) * 0.002) }),
        ],
        xLabel: "ISO week",
        yLabel: "accuracy",
        yRange: 0...1,
        xTicks: .integers,
        xFormatter: { "W" + String(Int($0)) },
        yFormatter: LineChart.percentFormatter()
    )

    /// The coordinate pairs of a polyline (malformed pairs are dropped; `checkInvariants`
    /// already fails on them).
    static func polylinePoints(_ element: ParsedSVG.Element) -> [(x: Double, y: Double)] {
        (element.attributes["points"] ?? "").split(separator: " ").compactMap { pair in
            let xy = pair.split(separator: ",").compactMap { Double($0) }
            return xy.count == 2 ? (xy[0], xy[1]) : nil
        }
    }

    static func plotBox(_ doc: ParsedSVG) throws -> (left: Double, top: Double, right: Double, bottom: Double) {
        let frame = try #require(doc.all("polyline").first { doc.parentHasClass($0, "axis") })
        let corners = polylinePoints(frame)
        try #require(corners.count == 3)
        return (corners[1].x, corners[0].y, corners[2].x, corners[1].y)
    }

    @Test func onePolylinePerSeriesAndOneMarkerPerPoint() throws {
        let svg = Self.weekly.svg()
        let doc = try checkInvariants(svg)
        let lines = doc.withClass("series")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.name == "polyline" })
        #expect(lines.map { Self.polylinePoints($0).count } == [8, 8])
        let markers = doc.withClass("point")
        try #require(markers.count == 16)
        #expect(markers.allSatisfy { $0.name == "circle" && doc.firstChild(of: $0, named: "title") != nil })
        #expect(try doc.childText(of: markers[0], named: "title") == "production\nx: W1, y: 81%")
        // Legend names and series colours.
        #expect(try doc.withClass("legend-item").map { try doc.childText(of: $0, named: "text") } == ["production", "candidate"])
        #expect(Set(lines.map { ($0.attributes["stroke"] ?? "") }).count == 2)
        expectNoNonFiniteNumbers(svg)
    }

    @Test func higherYIsHigherOnThePage() throws {
        let doc = try checkInvariants(Self.weekly.svg())
        for (series, line) in zip(Self.weekly.series, doc.withClass("series")) {
            let pixels = Self.polylinePoints(line)
            try #require(pixels.count == series.points.count)
            for (i, j) in zip(pixels.indices, pixels.indices.dropFirst()) {
                #expect(pixels[j].x > pixels[i].x)
                if series.points[j].y > series.points[i].y { #expect(pixels[j].y < pixels[i].y) }
            }
        }
        // With the fixed 0…1 range, y = 0 is the plot's bottom and y = 1 its top.
        let box = try Self.plotBox(doc)
        let one = LineChart(title: "t", series: [.init(name: "s", points: [P(x: 0, y: 0), P(x: 1, y: 1)])], yRange: 0...1)
        let oneDoc = try checkInvariants(one.svg())
        let oneBox = try Self.plotBox(oneDoc)
        let pts = Self.polylinePoints(try oneDoc.nth("series", 0))
        try #require(pts.count == 2)
        #expect(abs(pts[0].y - oneBox.bottom) < 0.01 && abs(pts[1].y - oneBox.top) < 0.01)
        #expect(abs(pts[0].x - oneBox.left) < 0.01 && abs(pts[1].x - oneBox.right) < 0.01)
        #expect(box.bottom > box.top)
    }

    @Test func yMappingIsMonotoneAcrossSeries() throws {
        let ys = [0.3, -2.0, 7.5, 0.0, 1e-3, 4.2, -0.7]
        let chart = LineChart(title: "t", series: [.init(name: "a", points: ys.enumerated().map { P(x: Double($0.offset), y: $0.element) })])
        let doc = try checkInvariants(chart.svg())
        let pixels = Self.polylinePoints(try doc.nth("series", 0))
        try #require(pixels.count == ys.count)
        for i in ys.indices {
            for j in ys.indices where ys[i] < ys[j] {
                #expect(pixels[i].y > pixels[j].y)
            }
        }
        // Auto range: every point inside the plot.
        let box = try Self.plotBox(doc)
        #expect(pixels.allSatisfy { $0.y >= box.top && $0.y <= box.bottom })
    }

    @Test func unsortedXIsSorted() throws {
        let chart = LineChart(title: "t", series: [.init(name: "a", points: [P(x: 3, y: 3), P(x: 1, y: 1), P(x: 2, y: 2), P(x: 0, y: 0)])])
        let doc = try checkInvariants(chart.svg())
        let pixels = Self.polylinePoints(try doc.nth("series", 0))
        #expect(pixels.map(\.x) == pixels.map(\.x).sorted())
        #expect(pixels.map(\.y) == pixels.map(\.y).sorted(by: >))
        let titles = try doc.withClass("point").map { try doc.childText(of: $0, named: "title") }
        #expect(titles.map { $0.components(separatedBy: "x: ").last?.prefix(1) } == ["0", "1", "2", "3"])
    }

    @Test func nonFinitePointsAreSkipped() throws {
        let points = [
            P(x: 0, y: 0.5), P(x: 1, y: .nan), P(x: .infinity, y: 0.2), P(x: 2, y: -.infinity), P(x: 3, y: 0.7), P(x: .nan, y: .nan),
            P(x: 4, y: 1e300), P(x: 5, y: 0.6),
        ]
        let chart = LineChart(title: "t", series: [.init(name: "a", points: points), .init(name: "b", points: [P(x: 1, y: 0.1)])])
        let svg = chart.svg()
        let doc = try checkInvariants(svg)
        let lines = doc.withClass("series")
        #expect(lines.map { Self.polylinePoints($0).count } == [3, 1])
        #expect(doc.withClass("point").count == 4)
        expectNoNonFiniteNumbers(svg)
        #expect(try doc.childText(of: doc.root, named: "desc").contains("5 not drawable"))
    }

    @Test func edgeCasesRenderWellFormed() throws {
        let cases: [[LineChart.Series]] = [
            [.init(name: "single", points: [P(x: 5, y: 0.9)])],
            [.init(name: "flat", points: (0..<5).map { P(x: Double($0), y: 0.42) })],
            [.init(name: "zero", points: (0..<5).map { P(x: Double($0), y: 0) })],
            [.init(name: "same x", points: [P(x: 2, y: 1), P(x: 2, y: 3)])],
            [.init(name: "empty", points: []), .init(name: "one", points: [P(x: 0, y: 1), P(x: 1, y: 2)])],
            [.init(name: "tiny", points: [P(x: 0, y: 1e-12), P(x: 1e-9, y: 2e-12)])],
            [.init(name: "huge", points: [P(x: -1e15, y: -1e15), P(x: 1e15, y: 1e15)])],
            [.init(name: "dates", points: [P(x: 1_709_164_800, y: 0.5)])],
        ]
        for series in cases {
            for ticks in [LineChart.XTicks.automatic, .integers, .utcDays, .values([0, 1, 2])] {
                for range in [nil, 0.0...1.0, 5.0...5.0] as [ClosedRange<Double>?] {
                    let chart = LineChart(title: series[0].name, series: series, yRange: range, xTicks: ticks)
                    let svg = chart.svg()
                    let doc = try checkInvariants(svg)
                    #expect(doc.withClass("series").count == series.count)
                    let drawable = series.map { $0.points.count }
                    #expect(doc.withClass("series").map { Self.polylinePoints($0).count } == drawable)
                    expectNoNonFiniteNumbers(svg)
                    // Markers stay within the chart's viewBox.
                    let viewBox = try doc.viewBox()
                    for marker in doc.withClass("point") {
                        #expect(try marker.num("cx") >= 0 && marker.num("cx") <= viewBox[2])
                        #expect(try marker.num("cy") >= 0 && marker.num("cy") <= viewBox[3])
                    }
                }
            }
        }
    }

    @Test func fixedRangeClampsOutliersToTheEdge() throws {
        let chart = LineChart(title: "t", series: [.init(name: "a", points: [P(x: 0, y: -0.5), P(x: 1, y: 0.5), P(x: 2, y: 1.5)])], yRange: 0...1)
        let doc = try checkInvariants(chart.svg())
        let box = try Self.plotBox(doc)
        let pixels = Self.polylinePoints(try doc.nth("series", 0))
        try #require(pixels.count == 3)
        #expect(abs(pixels[0].y - box.bottom) < 0.01)
        #expect(abs(pixels[2].y - box.top) < 0.01)
        let titles = try doc.withClass("point").map { try doc.childText(of: $0, named: "title") }
        try #require(titles.count == 3)
        #expect(titles[2].hasSuffix("y: 1.5"))
    }

    @Test func emptyInputsSayNoData() throws {
        for series in [[], [LineChart.Series(name: "a", points: [])], [.init(name: "a", points: [P(x: .nan, y: 1)])]] as [[LineChart.Series]] {
            let doc = try checkInvariants(LineChart(title: "Shadow agreement", series: series).svg())
            #expect(doc.withClass("series").isEmpty)
            #expect(doc.all("text").map { doc.allText($0) } == ["No data"])
        }
    }

    @Test func niceYTicks() throws {
        let chart = LineChart(title: "t", series: [.init(name: "a", points: [P(x: 0, y: 0.81), P(x: 1, y: 0.94)])])
        let doc = try checkInvariants(chart.svg())
        let axis = try doc.nth("axis", 0)
        let yTicks = doc.children(of: axis).filter { $0.name == "text" && $0.attributes["text-anchor"] == "end" }.map { doc.allText($0) }
        #expect(yTicks == ["0.80", "0.85", "0.90", "0.95"])
        let xTicks = doc.children(of: axis).filter { $0.name == "text" && $0.attributes["text-anchor"] == "middle" }.map { doc.allText($0) }
        #expect(xTicks == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    @Test func dayTicksAreMidnightsAndMondays() throws {
        let start = 1_709_164_800.0 + 3_600 * 5  // 2024-02-29 05:00 UTC
        let daily = LineChart.dayTicks(start, start + 4 * 86_400)
        #expect(daily.count >= 4 && daily.count <= 6)
        #expect(daily.allSatisfy { $0.truncatingRemainder(dividingBy: 86_400) == 0 })
        let weekly = LineChart.dayTicks(start, start + 40 * 86_400)
        #expect(weekly.count >= 4 && weekly.count <= 6)
        // Day 4 after the epoch was a Monday.
        #expect(weekly.allSatisfy { (Int($0 / 86_400) - 4) % 7 == 0 })

        let points = (0..<30).map { P(x: start + Double($0) * 86_400, y: Double($0 % 7) / 10) }
        let chart = LineChart(title: "Shadow agreement rate", series: [.init(name: "agreement", points: points)], yRange: 0...1, xTicks: .utcDays)
        let doc = try checkInvariants(chart.svg())
        let axis = try doc.nth("axis", 0)
        let labels = doc.children(of: axis).filter { $0.name == "text" && $0.attributes["text-anchor"] == "middle" }.map { doc.allText($0) }
        #expect(!labels.isEmpty)
        #expect(labels.allSatisfy { $0.count == 10 && $0.hasPrefix("2024-0") })
        let title = try doc.childText(of: try doc.nth("point", 0), named: "title")
        #expect(title == "agreement\nx: 2024-02-29, y: 0")
    }

    @Test(arguments: Hostile.all)
    func hostileNamesAreEscaped(text: String) throws {
        let chart = LineChart(
            title: text,
            series: [.init(name: text, points: [P(x: 0, y: 1), P(x: 1, y: 2)]), .init(name: Hostile.script, points: [P(x: 0, y: 2)])],
            xLabel: text, yLabel: text,
            xFormatter: { _ in text }, yFormatter: { _ in Hostile.quotes },
            showsTitle: true
        )
        let svg = chart.svg()
        let doc = try checkInvariants(svg)
        #expect(!containsBytes(svg, "<script"))
        #expect(!containsBytes(svg, "<svg onload"))
        #expect(doc.withClass("series").count == 2)
        let legend = try doc.withClass("legend-item").map { try doc.childText(of: $0, named: "text") }
        try #require(legend.count == 2)
        #expect(legend[1] == Hostile.script)
        let legendTitle = try doc.childText(of: try doc.nth("legend-item", 1), named: "title")
        #expect(legendTitle == Hostile.script)
        for element in doc.all("text") {
            let visible = doc.allText(element)
            #expect(!visible.contains("\n"))
            #expect(visible.count <= 200)
        }
    }

    @Test func manySeriesGetDistinctStyles() throws {
        let series = (0..<8).map { i in LineChart.Series(name: "s\(i)", points: [P(x: 0, y: Double(i)), P(x: 1, y: Double(i) + 1)]) }
        let doc = try checkInvariants(LineChart(title: "t", series: series).svg())
        let lines = doc.withClass("series")
        let firstSix = lines.prefix(6).map { ($0.attributes["stroke"] ?? "") }
        #expect(Set(firstSix).count == 6)
        let styles = lines.map { ($0.attributes["stroke"] ?? "") + "|" + ($0.attributes["stroke-dasharray"] ?? "") }
        #expect(Set(styles).count == 8)
    }

    @Test func deterministic() {
        #expect(Self.weekly.svg() == Self.weekly.svg())
        let copy = LineChart(
            title: Self.weekly.title, series: Self.weekly.series, xLabel: Self.weekly.xLabel, yLabel: Self.weekly.yLabel,
            yRange: 0...1, xTicks: .integers, xFormatter: { "W" + String(Int($0)) }, yFormatter: LineChart.percentFormatter()
        )
        #expect(copy.svg() == Self.weekly.svg())
    }
}
