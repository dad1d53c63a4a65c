import Foundation
import Testing

@testable import SVGCharts

@Suite struct BarChartTests {
    static let sample = BarChart(
        title: "F1 change per intent (candidate − production)",
        bars: [
            .init(label: "book_flight", value: 0.12, detail: "F1 0.71 → 0.83, support 41"),
            .init(label: "cancel_order", value: -0.08, detail: "F1 0.90 → 0.82, support 17"),
            .init(label: "greeting", value: 0, detail: nil),
            .init(label: "check_balance", value: 0.031),
            .init(label: "report_fraud", value: -0.2),
        ]
    )

    struct BarGeometry {
        var x: Double
        var width: Double
        var end: Double { x + width }
    }

    static func geometry(_ doc: ParsedSVG, count: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> (bars: [BarGeometry], zero: Double) {
        let bars = try doc.withClass("bar").map { BarGeometry(x: try $0.num("x"), width: try $0.num("width")) }
        try #require(bars.count == count, sourceLocation: sourceLocation)
        let zero = try doc.nth("zero", 0).num("x1")
        return (bars, zero)
    }

    @Test func oneRectPerBarAndNothingElseCalledBar() throws {
        let svg = Self.sample.svg()
        let doc = try checkInvariants(svg)
        let bars = doc.withClass("bar")
        #expect(bars.count == 5)
        #expect(bars.allSatisfy { $0.name == "rect" })
        // A CSS-style count of `rect.bar` in the raw markup, as the browser test does.
        #expect(svg.components(separatedBy: "class=\"bar\"").count - 1 == 5)
        expectNoNonFiniteNumbers(svg)
    }

    @Test func accessibleRootAndTitles() throws {
        let doc = try checkInvariants(Self.sample.svg())
        #expect(try doc.childText(of: doc.root, named: "title") == Self.sample.title)
        #expect((doc.root.attributes["aria-label"] ?? "").hasPrefix(Self.sample.title))
        // Each row's title carries label, value and detail.
        let rows = doc.withClass("row")
        try #require(rows.count == 5)
        let first = try doc.childText(of: rows[0], named: "title")
        #expect(first == "book_flight: +0.120\nF1 0.71 → 0.83, support 41")
        let third = try doc.childText(of: rows[2], named: "title")
        #expect(third == "greeting: 0.000")
        // The rect sits inside its row's group, after the title.
        for row in rows {
            let children = doc.children(of: row)
            #expect(children.first?.name == "title")
            #expect(children.filter { $0.classes.contains("bar") }.count == 1)
        }
        // Labels at the left, values printed.
        #expect(doc.withClass("label").map { doc.allText($0) } == ["book_flight", "cancel_order", "greeting", "check_balance", "report_fraud"])
        #expect(doc.withClass("value").map { doc.allText($0) } == ["+0.120", "-0.080", "0.000", "+0.031", "-0.200"])
    }

    /// Counts (a histogram): the axis starts at zero on the left, the longest bar spans the plot,
    /// no negative ticks, and a stray negative value draws nothing left of zero.
    @Test func oneSidedChartsStartAtZero() throws {
        var chart = BarChart(title: "Predictions by confidence", bars: [.init(label: "0–10 %", value: 4), .init(label: "90–100 %", value: 12),
                                                                         .init(label: "bad", value: -3), .init(label: "inf", value: -.infinity)],
                             valueFormat: .fixed(0), minimumExtent: 1)
        chart.oneSided = true
        let doc = try checkInvariants(chart.svg())
        let (bars, zero) = try Self.geometry(doc, count: 4)
        #expect(bars.allSatisfy { abs($0.x - zero) < 0.01 }, "every bar starts at the zero line")
        #expect(bars[2].width == 0 && bars[3].width == 0)
        #expect(abs(bars[0].width / bars[1].width - 4.0 / 12.0) < 0.01)
        let symmetric = try Self.geometry(try checkInvariants(BarChart(title: "t", bars: chart.bars, valueFormat: .fixed(0), minimumExtent: 1).svg()), count: 4)
        #expect(bars[1].width > symmetric.bars[1].width * 1.9, "the whole width, not half")
        #expect(chart.svg().contains("scale from 0 to 12."), "no negative half")
    }

    @Test func signsOnOppositeSidesOfTheZeroAxis() throws {
        let doc = try checkInvariants(Self.sample.svg())
        let (bars, zero) = try Self.geometry(doc, count: 5)
        let values = Self.sample.bars.map(\.value)
        for (bar, value) in zip(bars, values) {
            if value > 0 {
                #expect(abs(bar.x - zero) < 0.01)
                #expect(bar.end > zero + 1)
            } else if value < 0 {
                #expect(abs(bar.end - zero) < 0.01)
                #expect(bar.x < zero - 1)
            } else {
                #expect(bar.width == 0)
            }
        }
        // Lengths proportional to |value| (coordinates are rounded to 0.01).
        #expect(abs(bars[4].width / bars[0].width - 0.2 / 0.12) < 0.01)
        #expect(abs(bars[1].width / bars[0].width - 0.08 / 0.12) < 0.01)
        // Colours: one for positive, another for negative.
        let fills = doc.withClass("bar").map { ($0.attributes["fill"] ?? "") }
        #expect(fills[0] == fills[3])
        #expect(fills[1] == fills[4])
        #expect(fills[0] != fills[1])
        // Positive values print right of the bar end, negative left of it.
        let valueTexts = doc.withClass("value")
        try #require(valueTexts.count == 5)
        #expect(try valueTexts[0].num("x") > bars[0].end && valueTexts[0].attributes["text-anchor"] == "start")
        #expect(try valueTexts[1].num("x") < bars[1].x && valueTexts[1].attributes["text-anchor"] == "end")
    }

    @Test func scaleIsSymmetricAndHasAMinimum() throws {
        let tiny = BarChart(title: "tiny", bars: [.init(label: "a", value: 0.001), .init(label: "b", value: -0.002)])
        let doc = try checkInvariants(tiny.svg())
        let (bars, zero) = try Self.geometry(doc, count: 2)
        let axis = try #require(doc.all("line").first { $0.attributes["stroke"] == "#5b6675" && $0.number("y1") == $0.number("y2") })
        let half = try zero - axis.num("x1")
        #expect(try abs((axis.num("x2") - zero) - half) < 0.01)  // symmetric
        #expect(bars[0].width < half * 0.05)  // 0.001 against a ±0.05 minimum
        #expect(bars[1].width < half * 0.05)
        #expect(bars[0].width >= 1)  // but still visible

        let configured = BarChart(title: "t", bars: tiny.bars, minimumExtent: 0.002)
        let (wide, _) = try Self.geometry(try checkInvariants(configured.svg()), count: 2)
        #expect(wide[1].width > half * 0.5)
    }

    @Test func fixedExtentClampsToTheEdge() throws {
        let chart = BarChart(
            title: "fixed", bars: [.init(label: "over", value: 2.5), .init(label: "half", value: -0.5)], fixedExtent: 1
        )
        let doc = try checkInvariants(chart.svg())
        let (bars, zero) = try Self.geometry(doc, count: 2)
        let half = bars[0].width
        #expect(abs(bars[1].width - half / 2) < 0.01)
        #expect(abs(bars[0].x - zero) < 0.01)
        #expect(doc.withClass("value").map { doc.allText($0) } == ["+2.500", "-0.500"])
    }

    @Test func nonFiniteValuesKeepTheirRow() throws {
        let chart = BarChart(
            title: "odd values",
            bars: [
                .init(label: "nan", value: .nan), .init(label: "up", value: .infinity),
                .init(label: "down", value: -.infinity), .init(label: "huge", value: 1e300), .init(label: "normal", value: 0.1),
            ]
        )
        let svg = chart.svg()
        let doc = try checkInvariants(svg)
        let (bars, zero) = try Self.geometry(doc, count: 5)
        #expect(bars[0].width == 0)
        #expect(bars[1].x == zero && bars[1].width > 0)
        #expect(abs(bars[2].end - zero) < 0.02 && bars[2].width == bars[1].width)
        #expect(bars[3].width == bars[1].width)
        // The infinite values don't flatten the finite ones.
        #expect(bars[4].width > bars[1].width * 0.4)
        #expect(doc.withClass("value").map { doc.allText($0) } == ["n/a", "+∞", "-∞", "+1.00e+300", "+0.100"])
        // No "nan"/"inf" in any number.
        for element in doc.elements {
            for (key, value) in element.attributes where numericAttributes.contains(key) && element.name != "svg" {
                #expect(Double(value)?.isFinite == true)
            }
        }
    }

    @Test(arguments: Hostile.all)
    func hostileLabelsAreEscaped(label: String) throws {
        let chart = BarChart(
            title: label,
            bars: [.init(label: label, value: 0.3, detail: label), .init(label: "ok", value: -0.1, detail: Hostile.script)]
        )
        let svg = chart.svg()
        let doc = try checkInvariants(svg)
        #expect(doc.withClass("bar").count == 2)
        #expect(!containsBytes(svg, "<script"))
        #expect(!containsBytes(svg, "<svg onload"))
        #expect(!containsBytes(svg, "</text></svg>"))
        // The visible label is one short line.
        let visible = doc.allText(try doc.nth("label", 0))
        #expect(!visible.isEmpty)
        #expect(visible.count <= 60)
        #expect(!visible.contains("\n"))
        // The tooltip starts with the (sanitised) label in full.
        let tooltip = try doc.childText(of: try doc.nth("row", 0), named: "title")
        let expected = SVGText.sanitize(label)
        if !expected.isEmpty { #expect(tooltip.hasPrefix(expected + ": +0.300")) }
        // The detail with a script tag reads back as text.
        let second = try doc.childText(of: try doc.nth("row", 1), named: "title")
        #expect(second.hasSuffix(Hostile.script))
    }

    @Test func scriptLabelRoundTripsAsText() throws {
        let chart = BarChart(title: "x", bars: [.init(label: Hostile.script, value: 0.1)])
        let svg = chart.svg()
        #expect(containsBytes(svg, "&lt;script&gt;alert(1)&lt;/script&gt;"))
        let doc = try checkInvariants(svg)
        #expect(doc.allText(try doc.nth("label", 0)) == Hostile.script)
    }

    @Test func longLabelIsTruncatedAndKeptInTheTitle() throws {
        let chart = BarChart(title: "x", bars: [.init(label: Hostile.long, value: 0.1), .init(label: "short", value: 0.2)])
        let doc = try checkInvariants(chart.svg())
        let visible = doc.allText(try doc.nth("label", 0))
        #expect(visible.hasSuffix("…"))
        #expect(Hostile.long.hasPrefix(String(visible.dropLast())))
        let tooltip = try doc.childText(of: try doc.nth("row", 0), named: "title")
        #expect(tooltip == Hostile.long + ": +0.100")
        // The label column stays within a third of the width, so the bars keep their room.
        let (bars, zero) = try Self.geometry(doc, count: 2)
        #expect(zero - bars[0].x >= 0)
        #expect(zero > 800 * 0.34)
    }

    @Test func controlCharactersAndNoncharacters() throws {
        let chart = BarChart(title: Hostile.controls, bars: [.init(label: Hostile.noncharacters, value: 0.1, detail: Hostile.controls)])
        let svg = chart.svg()
        let doc = try checkInvariants(svg)
        #expect(doc.allText(try doc.nth("label", 0)) == "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e")
        let tooltip = try doc.childText(of: try doc.nth("row", 0), named: "title")
        #expect(tooltip.hasSuffix(": +0.100\nnulbellescdelc1\ntab line\nret"))
    }

    @Test func deterministic() {
        let a = Self.sample.svg()
        let b = Self.sample.svg()
        let c = BarChart(title: Self.sample.title, bars: Self.sample.bars).svg()
        #expect(a == b)
        #expect(a == c)
    }

    @Test func heightGrowsWithTheNumberOfBars() throws {
        func height(_ n: Int) throws -> Double {
            let bars = (0..<n).map { BarChart.Bar(label: "intent_\($0)", value: Double($0 % 5) / 10 - 0.2) }
            let doc = try checkInvariants(BarChart(title: "n", bars: bars).svg())
            #expect(doc.withClass("bar").count == n)
            return try doc.viewBox()[3]
        }
        let perBar = (try height(60) - height(10)) / 50
        #expect(perBar >= 18 && perBar <= 22)
        #expect(try height(1) < 80)
    }

    @Test func emptyMeansNoData() throws {
        let svg = BarChart(title: "Nothing <yet>", bars: []).svg()
        let doc = try checkInvariants(svg)
        #expect(doc.withClass("bar").isEmpty)
        #expect(doc.all("text").map { doc.allText($0) } == ["No data"])
        #expect(try doc.childText(of: doc.root, named: "title") == "Nothing <yet>")
        #expect(try doc.viewBox()[3] <= 60)
    }

    @Test func percentagePointFormat() throws {
        let chart = BarChart(title: "pp", bars: [.init(label: "a", value: 0.034), .init(label: "b", value: -0.12)], valueFormat: .percentagePoints(1))
        let doc = try checkInvariants(chart.svg())
        #expect(doc.withClass("value").map { doc.allText($0) } == ["+3.4 pp", "-12.0 pp"])
        let ticks = doc.elements.filter { $0.name == "text" && doc.parentHasClass($0, "axis") }.map { doc.allText($0) }
        #expect(ticks.contains("0"))
        #expect(ticks.allSatisfy { $0 == "0" || $0.hasSuffix(" pp") })
    }

    @Test func coloursHaveAAContrastAgainstWhite() {
        for colour in [ChartStyle.positive, ChartStyle.negative, ChartStyle.text, ChartStyle.muted] + ChartStyle.palette {
            #expect(contrastAgainstWhite(colour) >= 4.5, "\(colour)")
        }
    }
}

/// WCAG 2 contrast ratio of a #rrggbb colour against white.
func contrastAgainstWhite(_ hex: String) -> Double {
    let digits = Array(hex.dropFirst())
    func channel(_ i: Int) -> Double {
        let c = Double(Int(String(digits[i..<(i + 2)]), radix: 16)!) / 255
        return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
    }
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
    return 1.05 / (luminance + 0.05)
}
