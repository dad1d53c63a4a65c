// Line charts over a numeric x axis (time as seconds since 1970, week numbers, …).

import Foundation

/// One or more series drawn as lines with point markers, over nice-ticked axes with
/// gridlines and a legend.
///
/// Markup contract: each series is exactly one `<polyline class="series" …>` (in input order,
/// also for a series without drawable points, whose `points` attribute is then empty) holding
/// one coordinate pair per drawable point, followed by one `<circle class="point">` per
/// drawable point, each with a `<title>` giving the series, x and y.
///
/// Data handling: points are sorted by x (stably). Points with a NaN or infinite coordinate,
/// or a coordinate beyond ±10^15, are skipped. With a fixed `yRange`, points outside it are
/// drawn on its edge (their tooltip keeps the true value). When no series has a drawable
/// point the chart is a small "No data" SVG.
///
/// Colours: darkened Okabe–Ito hues (colour-blind safe, ≥ 5:1 against white), each series
/// also with its own dash pattern; series beyond six reuse colours with other dashes.
public struct LineChart: Sendable {
    public struct Point: Sendable, Hashable {
        public var x: Double
        public var y: Double

        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    public struct Series: Sendable, Hashable {
        public var name: String
        public var points: [Point]

        public init(name: String, points: [Point]) {
            self.name = name
            self.points = points
        }
    }

    /// Where the x ticks go.
    public enum XTicks: Sendable, Hashable {
        /// Nice 1/2/5 × 10^k steps within the data range.
        case automatic
        /// As `automatic`, but never finer than 1 (week numbers, counts).
        case integers
        /// x is seconds since 1970: ticks at UTC midnights every 1, 2, 7, 14, 28, 56, 91,
        /// 182 or 364 days (weekly and longer steps on Mondays); the default formatter prints
        /// "yyyy-MM-dd".
        case utcDays
        /// Exactly these ticks (those inside the data's x range).
        case values([Double])
    }

    public var title: String
    public var series: [Series]
    public var xLabel: String
    public var yLabel: String
    /// A fixed y axis (e.g. 0...1 for accuracy); nil for automatic (data range, padded 5 %,
    /// rounded out to nice ticks).
    public var yRange: ClosedRange<Double>?
    public var xTicks: XTicks
    /// Prints x values for ticks and tooltips; nil for the automatic format (the tick step's
    /// decimals; dates for `.utcDays`). Its output is escaped.
    public var xFormatter: (@Sendable (Double) -> String)?
    /// Prints y values for ticks and tooltips; nil for the automatic format. Escaped.
    public var yFormatter: (@Sendable (Double) -> String)?
    /// viewBox width; the SVG itself is `width="100%"`.
    public var width: Double
    /// Height of the plotting area in viewBox units (title, legend and axes add to it).
    public var plotHeight: Double
    /// Draw `title` as a heading inside the chart (it is always the accessible `<title>`).
    public var showsTitle: Bool

    public init(
        title: String,
        series: [Series],
        xLabel: String = "",
        yLabel: String = "",
        yRange: ClosedRange<Double>? = nil,
        xTicks: XTicks = .automatic,
        xFormatter: (@Sendable (Double) -> String)? = nil,
        yFormatter: (@Sendable (Double) -> String)? = nil,
        width: Double = 800,
        plotHeight: Double = 240,
        showsTitle: Bool = false
    ) {
        self.title = title
        self.series = series
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.yRange = yRange
        self.xTicks = xTicks
        self.xFormatter = xFormatter
        self.yFormatter = yFormatter
        self.width = width
        self.plotHeight = plotHeight
        self.showsTitle = showsTitle
    }

    /// Formats seconds since 1970 as a UTC "yyyy-MM-dd" (locale independent).
    public static let utcDateFormatter: @Sendable (Double) -> String = { SVGText.utcDate($0) }

    /// Formats a proportion as a percentage: 0.875 → "87.5%".
    public static func percentFormatter(decimals: Int = 0) -> @Sendable (Double) -> String {
        { ChartValueFormat.percent(decimals).string($0) }
    }

    /// Coordinates beyond this magnitude are skipped like non-finite ones.
    static let largestCoordinate = 1e15

    /// The drawable points of a series: finite, within ±10^15, stably sorted by x.
    static func drawable(_ points: [Point]) -> [Point] {
        points.enumerated()
            .filter { _, p in
                p.x.isFinite && p.y.isFinite && abs(p.x) <= largestCoordinate && abs(p.y) <= largestCoordinate
            }
            .sorted { a, b in a.element.x < b.element.x || (a.element.x == b.element.x && a.offset < b.offset) }
            .map(\.element)
    }

    public func svg() -> String {
        let fontSize = ChartStyle.fontSize
        let width = (self.width.isFinite && self.width >= 240) ? min(self.width, 10_000) : 800
        let plotHeight = (self.plotHeight.isFinite && self.plotHeight >= 60) ? min(self.plotHeight, 4_000) : 240
        let prepared = series.map { Self.drawable($0.points) }
        let all = prepared.flatMap { $0 }
        guard !all.isEmpty else { return SVGWriter.noData(kind: "line", width: width, title: title) }

        // X domain and ticks.
        var xLow = all.map(\.x).min() ?? 0
        var xHigh = all.map(\.x).max() ?? 1
        if xLow == xHigh {
            let pad = xTicks == .utcDays ? 86_400 : max(1, abs(xLow) * 1e-9)
            xLow -= pad
            xHigh += pad
        }
        let xTickValues: [Double]
        var xDecimals = 0
        switch xTicks {
        case .automatic, .integers:
            let ticks = NiceTicks.within(xLow, xHigh, minimumStep: xTicks == .integers ? 1 : nil)
            xTickValues = ticks.values
            xDecimals = ticks.decimals
        case .utcDays:
            xTickValues = Self.dayTicks(xLow, xHigh)
        case .values(let values):
            let tolerance = (xHigh - xLow) * 1e-9
            xTickValues = Array(Set(values.filter { $0.isFinite && $0 >= xLow - tolerance && $0 <= xHigh + tolerance })).sorted()
            xDecimals = 4
        }
        let formatX: @Sendable (Double) -> String
        if let xFormatter {
            formatX = xFormatter
        } else if xTicks == .utcDays {
            formatX = Self.utcDateFormatter
        } else if case .values = xTicks {
            formatX = { SVGText.trimmed($0, maximumDecimals: 4) }
        } else {
            let d = xDecimals
            formatX = { SVGText.fixed($0, decimals: d) }
        }
        let pointX: @Sendable (Double) -> String
        if xFormatter != nil || xTicks == .utcDays {
            pointX = formatX
        } else {
            let d = min(xDecimals + 2, 12)
            pointX = { SVGText.trimmed($0, maximumDecimals: d) }
        }

        // Y domain and ticks.
        let yTicks: NiceTicks
        var clampY = false
        if let range = yRange, range.lowerBound.isFinite, range.upperBound.isFinite,
            abs(range.lowerBound) <= Self.largestCoordinate, abs(range.upperBound) <= Self.largestCoordinate
        {
            let (lo, hi) = NiceTicks.usableRange(range.lowerBound, range.upperBound)
            yTicks = NiceTicks.within(lo, hi)
            clampY = true
        } else {
            let lo = all.map(\.y).min() ?? 0
            let hi = all.map(\.y).max() ?? 1
            let (a, b) = NiceTicks.usableRange(lo, hi)
            let pad = lo == hi ? 0 : (b - a) * 0.05
            yTicks = NiceTicks.covering(a - pad, b + pad)
        }
        let yLow = yTicks.lower
        let yHigh = yTicks.upper
        let formatY: @Sendable (Double) -> String
        let pointY: @Sendable (Double) -> String
        if let yFormatter {
            formatY = yFormatter
            pointY = yFormatter
        } else {
            let d = yTicks.decimals
            formatY = { SVGText.fixed($0, decimals: d) }
            let pd = min(d + 2, 12)
            pointY = { SVGText.trimmed($0, maximumDecimals: pd) }
        }

        // Tick label texts (escaped later), cut to a sane width.
        let yTickTexts = yTicks.values.map { SVGText.label(formatY($0), maxWidth: 120, fontSize: fontSize, placeholder: "").text }
        let xTickSpacing = xTickValues.count > 1 ? (width * 0.8) / Double(xTickValues.count) : width * 0.5
        let xTickTexts = xTickValues.map {
            SVGText.label(formatX($0), maxWidth: max(xTickSpacing - 8, 30), fontSize: fontSize, placeholder: "").text
        }

        // Horizontal layout.
        let margin = 8.0
        let yLabelBand = SVGText.sanitize(yLabel).isEmpty ? 0.0 : 20.0
        let widestYTick = yTickTexts.map { SVGText.estimatedWidth($0, fontSize: fontSize) }.max() ?? 0
        let firstXTickHalf = (xTickTexts.first.map { SVGText.estimatedWidth($0, fontSize: fontSize) } ?? 0) / 2
        let lastXTickHalf = (xTickTexts.last.map { SVGText.estimatedWidth($0, fontSize: fontSize) } ?? 0) / 2
        let plotLeft = max(margin + yLabelBand + widestYTick + 8, margin + firstXTickHalf + 2)
        let plotRight = width - max(16, lastXTickHalf + margin)
        let plotWidth = plotRight - plotLeft

        // Vertical layout: [title][legend rows][plot][x ticks][x label]
        var cursorY = margin
        var titleLine: (text: String, y: Double)?
        if showsTitle {
            let text = SVGText.label(title, maxWidth: width - 2 * margin, fontSize: 14, placeholder: "").text
            if !text.isEmpty {
                titleLine = (text, cursorY + 14)
                cursorY += 24
            }
        }
        // Legend items wrap into rows across the full width.
        struct LegendItem {
            var index: Int
            var text: String
            var x: Double
            var row: Int
        }
        var legend: [LegendItem] = []
        var legendX = margin
        var legendRow = 0
        let swatch = 26.0
        for (index, s) in series.enumerated() {
            let name = SVGText.label(s.name, maxWidth: 220, fontSize: fontSize, placeholder: "Series \(index + 1)").text
            let itemWidth = swatch + 6 + SVGText.estimatedWidth(name, fontSize: fontSize) + 18
            if legendX > margin && legendX + itemWidth > width - margin {
                legendRow += 1
                legendX = margin
            }
            legend.append(LegendItem(index: index, text: name, x: legendX, row: legendRow))
            legendX += itemWidth
        }
        let legendTop = cursorY
        let legendRowHeight = 18.0
        cursorY += Double(legendRow + 1) * legendRowHeight + 8
        let plotTop = cursorY + 4
        let plotBottom = plotTop + plotHeight
        let xLabelText = SVGText.label(xLabel, maxWidth: plotWidth, fontSize: fontSize, placeholder: "").text
        let height = plotBottom + 24 + (xLabelText.isEmpty ? 0 : 18) + 4

        func px(_ x: Double) -> Double { plotLeft + (x - xLow) / (xHigh - xLow) * plotWidth }
        func py(_ y: Double) -> Double {
            let v = clampY ? min(max(y, yLow), yHigh) : y
            return plotBottom - (v - yLow) / (yHigh - yLow) * plotHeight
        }

        let drawn = prepared.map(\.count).reduce(0, +)
        let skipped = series.map(\.points.count).reduce(0, +) - drawn
        var summary = "Line chart, \(series.count) series, \(drawn) point\(drawn == 1 ? "" : "s")"
        if skipped > 0 { summary += " (\(skipped) not drawable, skipped)" }
        summary += "; x from " + formatX(all.map(\.x).min() ?? xLow) + " to " + formatX(all.map(\.x).max() ?? xHigh)
        summary += ", y axis " + formatY(yLow) + " to " + formatY(yHigh) + "."

        var w = SVGWriter()
        w.openRoot(kind: "line", width: width, height: height, title: title, summary: summary)

        if let titleLine {
            w.element(
                "text",
                ["class": "heading", "x": SVGText.coordinate(margin), "y": SVGText.coordinate(titleLine.y), "font-size": "14", "font-weight": "600", "fill": ChartStyle.text],
                text: titleLine.text
            )
        }

        // Gridlines.
        w.open("g", ["class": "grid", "stroke": ChartStyle.grid, "stroke-width": "1"])
        w.newline()
        for y in yTicks.values {
            let yy = SVGText.coordinate(py(y))
            w.empty("line", ["x1": SVGText.coordinate(plotLeft), "y1": yy, "x2": SVGText.coordinate(plotRight), "y2": yy])
        }
        for x in xTickValues {
            let xx = SVGText.coordinate(px(x))
            w.empty("line", ["x1": xx, "y1": SVGText.coordinate(plotTop), "x2": xx, "y2": SVGText.coordinate(plotBottom), "stroke-dasharray": "2 3"])
        }
        w.close("g")

        // Axes and tick labels.
        w.open("g", ["class": "axis", "fill": ChartStyle.muted, "font-size": "11"])
        w.newline()
        w.empty(
            "polyline",
            [
                "points": SVGText.coordinate(plotLeft) + "," + SVGText.coordinate(plotTop) + " "
                    + SVGText.coordinate(plotLeft) + "," + SVGText.coordinate(plotBottom) + " "
                    + SVGText.coordinate(plotRight) + "," + SVGText.coordinate(plotBottom),
                "fill": "none", "stroke": ChartStyle.axis, "stroke-width": "1",
            ]
        )
        for (y, text) in zip(yTicks.values, yTickTexts) {
            w.element(
                "text",
                ["x": SVGText.coordinate(plotLeft - 6), "y": SVGText.coordinate(py(y)), "dy": "0.35em", "text-anchor": "end"],
                text: text
            )
        }
        for (x, text) in zip(xTickValues, xTickTexts) {
            let xx = SVGText.coordinate(px(x))
            w.empty("line", ["x1": xx, "y1": SVGText.coordinate(plotBottom), "x2": xx, "y2": SVGText.coordinate(plotBottom + 4), "stroke": ChartStyle.axis])
            w.element("text", ["x": xx, "y": SVGText.coordinate(plotBottom + 17), "text-anchor": "middle"], text: text)
        }
        w.close("g")
        if !xLabelText.isEmpty {
            w.element(
                "text",
                [
                    "class": "axis-label", "x": SVGText.coordinate((plotLeft + plotRight) / 2), "y": SVGText.coordinate(plotBottom + 36),
                    "text-anchor": "middle", "fill": ChartStyle.text,
                ],
                text: xLabelText
            )
        }
        if yLabelBand > 0 {
            let text = SVGText.label(yLabel, maxWidth: plotHeight, fontSize: fontSize, placeholder: "").text
            let x = SVGText.coordinate(margin + 12)
            let y = SVGText.coordinate((plotTop + plotBottom) / 2)
            w.element(
                "text",
                ["class": "axis-label", "x": x, "y": y, "text-anchor": "middle", "fill": ChartStyle.text, "transform": "rotate(-90 " + x + " " + y + ")"],
                text: text
            )
        }

        // Legend.
        w.open("g", ["class": "legend"])
        w.newline()
        for item in legend {
            let colour = Self.colour(item.index)
            let dash = Self.dash(item.index)
            let y = legendTop + Double(item.row) * legendRowHeight + legendRowHeight / 2
            w.open("g", ["class": "legend-item"])
            w.title(series[item.index].name.isEmpty ? item.text : series[item.index].name)
            w.empty(
                "line",
                [
                    "x1": SVGText.coordinate(item.x), "y1": SVGText.coordinate(y), "x2": SVGText.coordinate(item.x + swatch), "y2": SVGText.coordinate(y),
                    "stroke": colour, "stroke-width": "2.5", "stroke-dasharray": dash.isEmpty ? "none" : dash,
                ]
            )
            w.empty("circle", ["cx": SVGText.coordinate(item.x + swatch / 2), "cy": SVGText.coordinate(y), "r": "3", "fill": colour])
            w.element(
                "text",
                ["x": SVGText.coordinate(item.x + swatch + 6), "y": SVGText.coordinate(y), "dy": "0.35em", "fill": ChartStyle.text],
                text: item.text
            )
            w.close("g")
        }
        w.close("g")

        // Series.
        for (index, s) in series.enumerated() {
            let colour = Self.colour(index)
            let dash = Self.dash(index)
            let points = prepared[index]
            let name = SVGText.sanitize(s.name).isEmpty ? "Series \(index + 1)" : s.name
            let coordinates = points.map { SVGText.coordinate(px($0.x)) + "," + SVGText.coordinate(py($0.y)) }
            w.open("g", ["class": "line"])
            w.newline()
            w.open(
                "polyline",
                [
                    "class": "series", "points": coordinates.joined(separator: " "),
                    "fill": "none", "stroke": colour, "stroke-width": "2", "stroke-linejoin": "round", "stroke-linecap": "round",
                    "stroke-dasharray": dash.isEmpty ? "none" : dash,
                ]
            )
            w.title(name)
            w.close("polyline")
            let radius = points.count > 80 ? "2" : "3.5"
            for (point, xy) in zip(points, coordinates) {
                let parts = xy.split(separator: ",")
                w.open("circle", ["class": "point", "cx": String(parts[0]), "cy": String(parts[1]), "r": radius, "fill": colour, "stroke": "#ffffff", "stroke-width": "1"])
                w.title(SVGText.sanitize(name) + "\n" + "x: " + pointX(point.x) + ", y: " + pointY(point.y))
                w.close("circle")
            }
            w.close("g")
        }
        w.close("svg")
        return w.output
    }

    static func colour(_ index: Int) -> String { ChartStyle.palette[index % ChartStyle.palette.count] }

    static func dash(_ index: Int) -> String {
        let dashes = ChartStyle.dashes
        // Beyond six series the colours repeat; shift the dashes so the pairs differ.
        return dashes[(index + index / ChartStyle.palette.count) % dashes.count]
    }

    /// UTC-midnight ticks for `lower…upper` seconds since 1970: the day step (1, 2, 7, 14,
    /// 28, 56, 91, 182, 364 days, then multiples of 364) giving the tick count nearest 5,
    /// preferring 4–6; steps of whole weeks fall on Mondays.
    static func dayTicks(_ lower: Double, _ upper: Double) -> [Double] {
        let day = 86_400.0
        let loDay = lower / day
        let hiDay = upper / day
        var steps = [1, 2, 7, 14, 28, 56, 91, 182, 364]
        var multiple = 2
        while Double(steps.last ?? 1) * 6 < hiDay - loDay { steps.append(364 * multiple); multiple *= 2 }
        var best: (score: Int, step: Int, lo: Int64, hi: Int64)?
        for step in steps {
            let offset = step % 7 == 0 ? 4.0 : 0.0  // 1970-01-05 (day 4) was a Monday
            let s = Double(step)
            let kLo = Int64(((loDay - offset) / s - 1e-9).rounded(.up))
            let kHi = Int64(((hiDay - offset) / s + 1e-9).rounded(.down))
            let count = Int(kHi - kLo + 1)
            guard count >= 1 else { continue }
            let score = ((4...6).contains(count) ? 0 : 100) + abs(count - 5)
            if let current = best, current.score <= score { continue }
            best = (score, step, kLo, kHi)
        }
        guard let best else { return [] }
        let offset = best.step % 7 == 0 ? 4.0 : 0.0
        return (best.lo...best.hi).map { (Double($0) * Double(best.step) + offset) * day }
    }
}
