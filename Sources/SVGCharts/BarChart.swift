// Horizontal bars for signed values (e.g. the per-intent F1 change between two models).

import Foundation

/// A horizontal bar chart of signed values around a zero axis: positive bars extend right in
/// green, negative bars left in vermillion; each row shows its label at the left, its value at
/// the bar's end, and a `<title>` tooltip with the full label, the value and the detail.
///
/// Markup contract (relied on by browser tests): every bar is exactly one
/// `<rect class="bar" …>`, in input order, also for zero and non-finite values; no other
/// element has the class `bar`. Each row is a `<g class="row">` whose first child is its
/// `<title>`.
///
/// The scale is symmetric around zero: ±max(|value|, `minimumExtent`) — the longest bar fills
/// its half — or exactly ±`fixedExtent` when that is set (values beyond it are drawn to the
/// edge; their printed value stays true). Gridlines and tick labels sit at nice values inside.
///
/// Non-finite values: NaN draws a zero-width bar printed "n/a"; ±∞ (and finite values above
/// 10^15 in magnitude) do not influence the scale and draw a full-length bar, printed
/// "+∞"/"-∞" (respectively the true value). Rows keep the input order.
public struct BarChart: Sendable {
    public struct Bar: Sendable, Hashable {
        public var label: String
        public var value: Double
        public var detail: String?

        public init(label: String, value: Double, detail: String? = nil) {
            self.label = label
            self.value = value
            self.detail = detail
        }
    }

    public var title: String
    public var bars: [Bar]
    /// How values are printed at the bars' ends and in tooltips.
    public var valueFormat: ChartValueFormat
    /// The scale is at least ±this, so tiny changes don't fill the whole width.
    public var minimumExtent: Double
    /// When set, the scale is exactly ±this (e.g. 1 for F1 changes).
    public var fixedExtent: Double?
    /// viewBox width; the SVG itself is `width="100%"`.
    public var width: Double
    /// Vertical space per bar in viewBox units (the height grows with the number of bars).
    public var rowHeight: Double
    /// Counts and other values that cannot be negative: the axis starts at zero on the left and
    /// the longest bar spans the whole width (a negative value is drawn as zero, printed true).
    public var oneSided = false

    public init(
        title: String,
        bars: [Bar],
        valueFormat: ChartValueFormat = .signed(3),
        minimumExtent: Double = 0.05,
        fixedExtent: Double? = nil,
        width: Double = 800,
        rowHeight: Double = 20
    ) {
        self.title = title
        self.bars = bars
        self.valueFormat = valueFormat
        self.minimumExtent = minimumExtent
        self.fixedExtent = fixedExtent
        self.width = width
        self.rowHeight = rowHeight
    }

    /// Values whose magnitude exceeds this are treated like infinities for the scale.
    static let largestScaledValue = 1e15

    public func svg() -> String {
        let fontSize = ChartStyle.fontSize
        let width = (self.width.isFinite && self.width >= 240) ? min(self.width, 10_000) : 800
        guard !bars.isEmpty else { return SVGWriter.noData(kind: "bar", width: width, title: title) }
        let rowHeight = (self.rowHeight.isFinite && self.rowHeight >= 14) ? min(self.rowHeight, 60) : 20
        let barThickness = (rowHeight * 0.7).rounded()

        // Scale.
        let finite = bars.map(\.value).filter { $0.isFinite && abs($0) <= Self.largestScaledValue }
        let maxMagnitude = finite.map(abs).max() ?? 0
        let floorExtent = (minimumExtent.isFinite && minimumExtent > 0) ? min(minimumExtent, Self.largestScaledValue) : 0.05
        let extent: Double
        if let fixed = fixedExtent, fixed.isFinite, fixed > 0 {
            extent = min(fixed, Self.largestScaledValue)
        } else {
            extent = max(maxMagnitude, floorExtent)
        }
        // The longest bar spans the whole half; the gridlines fall on nice values inside.
        let ticks = NiceTicks.within(oneSided ? 0 : -extent, extent)

        // Horizontal layout: [margin][labels][gap][value pad][ − bars | + bars ][value pad][margin]
        let margin = 8.0
        let gap = 10.0
        let valueTexts = bars.map { valueFormat.string($0.value) }
        let valuePad = min((valueTexts.map { SVGText.estimatedWidth($0, fontSize: fontSize) }.max() ?? 0) + 8, width * 0.15)
        let labelWidthLimit = (width * 0.34).rounded()
        let cleanedLabels = bars.map { SVGText.label($0.label, maxWidth: .infinity, fontSize: fontSize).text }
        let widestLabel = cleanedLabels.map { SVGText.estimatedWidth($0, fontSize: fontSize) }.max() ?? 0
        let labelColumn = min(max(widestLabel, 40), labelWidthLimit)
        let plotLeft = margin + labelColumn + gap + valuePad
        let plotRight = width - margin - valuePad
        let zeroX = oneSided ? plotLeft : (plotLeft + plotRight) / 2
        let halfWidth = oneSided ? plotRight - plotLeft : (plotRight - plotLeft) / 2

        // Vertical layout: rows, then an axis with tick labels.
        let top = 8.0
        let rowsHeight = Double(bars.count) * rowHeight
        let axisY = top + rowsHeight + 4
        let height = axisY + 26

        func xFor(_ value: Double) -> Double {
            let clamped = min(max(value / extent, oneSided ? 0 : -1), 1)
            return zeroX + clamped * halfWidth
        }

        let positives = bars.filter { $0.value > 0 }.count
        let negatives = bars.filter { $0.value < 0 }.count
        let others = bars.count - positives - negatives
        var summary = "Bar chart, \(bars.count) bar\(bars.count == 1 ? "" : "s"): \(positives) positive, \(negatives) negative"
        if others > 0 { summary += ", \(others) zero or missing" }
        summary += "; scale from " + valueFormat.string(oneSided ? 0 : -extent) + " to " + valueFormat.string(extent) + "."

        var w = SVGWriter()
        w.openRoot(kind: "bar", width: width, height: height, title: title, summary: summary)

        // Gridlines and tick labels.
        w.open("g", ["class": "grid", "stroke": ChartStyle.grid, "stroke-width": "1"])
        w.newline()
        for tick in ticks.values where abs(tick) > extent * 1e-9 {
            let x = SVGText.coordinate(xFor(tick))
            w.empty("line", ["x1": x, "y1": SVGText.coordinate(top), "x2": x, "y2": SVGText.coordinate(axisY)])
        }
        w.close("g")
        w.open("g", ["class": "axis", "fill": ChartStyle.muted, "text-anchor": "middle", "font-size": "11"])
        w.newline()
        w.empty(
            "line",
            [
                "x1": SVGText.coordinate(plotLeft), "y1": SVGText.coordinate(axisY),
                "x2": SVGText.coordinate(plotRight), "y2": SVGText.coordinate(axisY),
                "stroke": ChartStyle.axis, "stroke-width": "1",
            ]
        )
        for tick in ticks.values {
            let x = SVGText.coordinate(xFor(tick))
            w.empty("line", ["x1": x, "y1": SVGText.coordinate(axisY), "x2": x, "y2": SVGText.coordinate(axisY + 4), "stroke": ChartStyle.axis])
            w.element("text", ["x": x, "y": SVGText.coordinate(axisY + 16)], text: tickText(tick, decimals: ticks.decimals))
        }
        w.close("g")

        // Rows.
        for (index, bar) in bars.enumerated() {
            let rowTop = top + Double(index) * rowHeight
            let centreY = rowTop + rowHeight / 2
            let value = bar.value
            let end: Double
            if value.isNaN {
                end = zeroX
            } else if value.isInfinite || abs(value) > Self.largestScaledValue {
                end = value > 0 ? zeroX + halfWidth : (oneSided ? zeroX : zeroX - halfWidth)
            } else {
                var x = xFor(value)
                // A non-zero value stays visible: at least one unit long.
                if value != 0 && abs(x - zeroX) < 1 && !(oneSided && value < 0) { x = zeroX + (value > 0 ? 1 : -1) }
                end = x
            }
            let barX = min(zeroX, end)
            let barWidth = abs(end - zeroX)
            let colour = value < 0 ? ChartStyle.negative : ChartStyle.positive

            let label = SVGText.label(bar.label, maxWidth: labelColumn, fontSize: fontSize)
            var tooltip = SVGText.sanitize(bar.label)
            if tooltip.isEmpty { tooltip = "(empty)" }
            tooltip += ": " + valueTexts[index]
            if let detail = bar.detail {
                let cleanDetail = SVGText.sanitize(detail, multiline: true)
                if !cleanDetail.isEmpty { tooltip += "\n" + cleanDetail }
            }

            w.open("g", ["class": "row"])
            w.newline()
            w.title(tooltip)
            // An invisible full-row target so the tooltip also shows for tiny bars.
            w.empty(
                "rect",
                [
                    "class": "hit", "x": SVGText.coordinate(margin), "y": SVGText.coordinate(rowTop),
                    "width": SVGText.coordinate(width - 2 * margin), "height": SVGText.coordinate(rowHeight),
                    "fill": "#ffffff", "fill-opacity": "0",
                ]
            )
            w.element(
                "text",
                [
                    "class": "label", "x": SVGText.coordinate(margin), "y": SVGText.coordinate(centreY), "dy": "0.35em",
                    "fill": ChartStyle.text,
                ],
                text: label.text
            )
            w.empty(
                "rect",
                [
                    "class": "bar", "x": SVGText.coordinate(barX), "y": SVGText.coordinate(centreY - barThickness / 2),
                    "width": SVGText.coordinate(barWidth), "height": SVGText.coordinate(barThickness),
                    "fill": colour,
                ]
            )
            let valueAnchor = value < 0 ? "end" : "start"
            let valueX = value < 0 ? end - 4 : end + 4
            w.element(
                "text",
                [
                    "class": "value", "x": SVGText.coordinate(valueX), "y": SVGText.coordinate(centreY), "dy": "0.35em",
                    "text-anchor": valueAnchor, "fill": value.isNaN ? ChartStyle.muted : ChartStyle.text,
                ],
                text: valueTexts[index]
            )
            w.close("g")
        }

        // The zero axis, drawn last so it sits on top of the bars.
        w.empty(
            "line",
            [
                "class": "zero", "x1": SVGText.coordinate(zeroX), "y1": SVGText.coordinate(top - 4),
                "x2": SVGText.coordinate(zeroX), "y2": SVGText.coordinate(axisY),
                "stroke": ChartStyle.zeroAxis, "stroke-width": "1.5",
            ]
        )
        w.close("svg")
        return w.output
    }

    /// Tick labels use the value format's multiplier and suffix, with the tick's decimals.
    private func tickText(_ tick: Double, decimals: Int) -> String {
        if tick == 0 { return "0" }
        let multiplier = abs(valueFormat.multiplier)
        let shift = multiplier.isFinite && multiplier > 0 ? Int(log10(multiplier).rounded()) : 0
        var format = valueFormat
        format.decimals = min(max(0, decimals - shift), 12)
        return format.string(tick)
    }
}
