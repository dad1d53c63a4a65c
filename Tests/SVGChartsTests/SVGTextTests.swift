import Foundation
import Testing

@testable import SVGCharts

@Suite struct SVGTextTests {
    @Test func escapesMarkupCharacters() {
        #expect(SVGText.escape(Hostile.script) == "&lt;script&gt;alert(1)&lt;/script&gt;")
        #expect(SVGText.escape("&amp;") == "&amp;amp;")
        #expect(SVGText.escape("a\"b'c") == "a&quot;b&#39;c")
        #expect(SVGText.escape("plain text é 日本") == "plain text é 日本")
    }

    @Test func escapeDropsWhatXMLForbids() {
        #expect(SVGText.escape("a\u{0}b\u{1}c\u{1F}d\u{7F}e\u{9F}f") == "abcdef")
        #expect(SVGText.escape("keep\ttab\nnewline") == "keep\ttab\nnewline")
        #expect(SVGText.escape("x\u{FFFE}y\u{FFFF}z") == "x\u{FFFD}y\u{FFFD}z")
        #expect(SVGText.escape(scalar(0xFDD0) + "\u{1FFFE}") == "\u{FFFD}\u{FFFD}")
    }

    @Test func sanitizeCollapsesWhitespaceAndControls() {
        #expect(SVGText.sanitize("  a \n\t b\u{0}c  ") == "a bc")
        #expect(SVGText.sanitize("line one\r\n\r\nline two", multiline: true) == "line one\nline two")
        #expect(SVGText.sanitize(" \n ") == "")
        #expect(SVGText.sanitize("a\u{2028}b") == "a b")
        // Input is cut before any work.
        let huge = String(repeating: "x", count: 100_000)
        #expect(SVGText.sanitize(huge).count == SVGText.maximumInputScalars)
    }

    @Test func labelTruncatesToWidthOnCharacterBoundaries() {
        let (short, shortCut) = SVGText.label("greeting", maxWidth: 200, fontSize: 12)
        #expect(short == "greeting")
        #expect(!shortCut)

        let (long, longCut) = SVGText.label(Hostile.long, maxWidth: 200, fontSize: 12)
        #expect(longCut)
        #expect(long.hasSuffix("…"))
        #expect(long.count > 10 && long.count < 60)
        #expect(SVGText.estimatedWidth(long, fontSize: 12) <= 200)
        #expect(Hostile.long.hasPrefix(String(long.dropLast())))

        // Combining marks stay with their base letter.
        let (accents, _) = SVGText.label(Hostile.combining, maxWidth: 150, fontSize: 12)
        #expect(accents.hasSuffix("…"))
        for character in accents.dropLast() {
            #expect(Array(character.unicodeScalars) == ["e", "\u{301}"])
        }

        // Zalgo marks are capped per character.
        let (zalgo, _) = SVGText.label(Hostile.zalgo, maxWidth: 500, fontSize: 12)
        let first = zalgo.first!
        #expect(first.unicodeScalars.count == 1 + SVGText.maximumMarksPerCharacter)
        #expect(zalgo.hasSuffix("algo"))

        #expect(SVGText.label(" \n ", maxWidth: 100, fontSize: 12).text == "(empty)")
    }

    @Test func tooltipKeepsLongTextButIsBounded() {
        #expect(SVGText.tooltip(Hostile.long) == Hostile.long)
        let enormous = String(repeating: "abc ", count: 5_000)
        let cut = SVGText.tooltip(enormous)
        #expect(cut.count == SVGText.maximumTitleCharacters)
        #expect(cut.hasSuffix("…"))
    }

    @Test(arguments: [
        (0.1234, 3, false, "0.123"),
        (-0.1234, 3, false, "-0.123"),
        (0.1234, 3, true, "+0.123"),
        (-0.0004, 3, true, "0.000"),
        (-0.0005, 3, true, "-0.001"),
        (-0.0, 2, true, "0.00"),
        (0, 0, true, "0"),
        (2.5, 0, false, "3"),
        (-2.5, 0, false, "-3"),
        (0.05, 2, false, "0.05"),
        (1234567.891, 2, false, "1234567.89"),
        (9.999, 2, false, "10.00"),
        (1e-20, 4, false, "0.0000"),
        (123.0, -3, false, "123"),
        (1e20, 2, false, "1.00e+20"),
        (-3.456e25, 2, false, "-3.46e+25"),
        (Double.nan, 2, false, "n/a"),
        (Double.infinity, 2, true, "+∞"),
        (-Double.infinity, 2, true, "-∞"),
    ])
    func fixedDecimals(value: Double, decimals: Int, plus: Bool, expected: String) {
        #expect(SVGText.fixed(value, decimals: decimals, plusSign: plus) == expected)
    }

    @Test func coordinatesAreCompactAndFinite() {
        #expect(SVGText.coordinate(12) == "12")
        #expect(SVGText.coordinate(12.5) == "12.5")
        #expect(SVGText.coordinate(12.256) == "12.26")
        #expect(SVGText.coordinate(-0.001) == "0")
        #expect(SVGText.coordinate(-3.1) == "-3.1")
        #expect(SVGText.coordinate(.nan) == "0")
        #expect(SVGText.coordinate(.infinity) == "0")
    }

    @Test func valueFormats() {
        #expect(ChartValueFormat.signed(3).string(0.0421) == "+0.042")
        #expect(ChartValueFormat.fixed(2).string(0.5) == "0.50")
        #expect(ChartValueFormat.percent(1).string(0.1234) == "12.3%")
        #expect(ChartValueFormat.percentagePoints(1).string(-0.05) == "-5.0 pp")
        #expect(ChartValueFormat.percentagePoints(1).string(.nan) == "n/a")
    }

    @Test(arguments: [
        (0.0, "1970-01-01"),
        (86_399.0, "1970-01-01"),
        (-1.0, "1969-12-31"),
        (1_709_164_800.0, "2024-02-29"),
        (1_709_251_199.0, "2024-02-29"),
        (-2_203_891_200.0, "1900-03-01"),
        (253_402_300_799.0, "9999-12-31"),
        (Double.nan, "n/a"),
    ])
    func utcDates(seconds: Double, expected: String) {
        #expect(SVGText.utcDate(seconds) == expected)
    }
}

@Suite struct NiceTicksTests {
    /// Steps are 1, 2 or 5 × 10^k and every tick a multiple of the step.
    func expectNice(_ ticks: NiceTicks, sourceLocation: SourceLocation = #_sourceLocation) {
        let exponent = (log10(ticks.step)).rounded(.down)
        let mantissa = (ticks.step / pow(10, exponent) * 1000).rounded() / 1000
        #expect([1, 2, 5].contains(mantissa), "step \(ticks.step)", sourceLocation: sourceLocation)
        for (a, b) in zip(ticks.values, ticks.values.dropFirst()) {
            #expect(abs((b - a) - ticks.step) <= ticks.step * 1e-9, sourceLocation: sourceLocation)
        }
        for v in ticks.values {
            let k = v / ticks.step
            #expect(abs(k - k.rounded()) < 1e-6, "\(v) is not a multiple of \(ticks.step)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.8, 0.95, [0.8, 0.85, 0.9, 0.95]),
        (0.0, 97.0, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
        (-0.137, 0.137, [-0.2, -0.1, 0.0, 0.1, 0.2]),
        (3.0, 17.0, [0.0, 5.0, 10.0, 15.0, 20.0]),
    ])
    func coveringTable(lo: Double, hi: Double, expected: [Double]) {
        let ticks = NiceTicks.covering(lo, hi)
        #expect(ticks.values == expected)
        #expect(ticks.lower <= lo && ticks.upper >= hi)
        expectNice(ticks)
    }

    @Test func withinKeepsTheDomain() {
        let ticks = NiceTicks.within(0.8, 0.95)
        #expect(ticks.lower == 0.8 && ticks.upper == 0.95)
        #expect(ticks.values == [0.8, 0.85, 0.9, 0.95])
        #expect(ticks.decimals == 2)
        let unit = NiceTicks.within(0, 1)
        #expect(unit.values == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(unit.decimals == 1)
    }

    @Test func manyRangesGiveFourToSixNiceTicks() {
        // A deterministic spread of ranges over many magnitudes and offsets.
        var outside = (covering: 0, within: 0)
        var total = 0
        for exponent in -6...9 {
            for i in 1...40 {
                let span = Double(i) * 0.37 * pow(10, Double(exponent))
                let lo = (Double(i % 7) - 3) * span * 0.61
                let covering = NiceTicks.covering(lo, lo + span)
                let within = NiceTicks.within(lo, lo + span)
                for ticks in [covering, within] {
                    expectNice(ticks)
                    #expect(ticks.values.count >= 3 && ticks.values.count <= 7, "\(lo)…\(lo + span): \(ticks.values)")
                    #expect(ticks.values.allSatisfy { $0 >= ticks.lower - ticks.step * 1e-6 && $0 <= ticks.upper + ticks.step * 1e-6 })
                }
                #expect(covering.lower <= lo && covering.upper >= lo + span)
                #expect(within.lower == lo && within.upper == lo + span)
                if !(4...6).contains(covering.values.count) { outside.covering += 1 }
                if !(4...6).contains(within.values.count) { outside.within += 1 }
                total += 1
            }
        }
        // The 1/2/5 ladder cannot always land in 4–6 — least of all inside a fixed domain —
        // but an automatic (covering) axis almost always does.
        #expect(Double(outside.covering) / Double(total) < 0.05, "\(outside.covering) of \(total)")
        #expect(Double(outside.within) / Double(total) < 0.25, "\(outside.within) of \(total)")
    }

    @Test func degenerateAndNonFiniteRanges() {
        for (lo, hi) in [(5.0, 5.0), (0.0, 0.0), (-3.0, -3.0), (Double.nan, 1.0), (2.0, -2.0), (0.0, Double.infinity)] {
            let ticks = NiceTicks.covering(lo, hi)
            #expect(ticks.lower < ticks.upper)
            #expect(!ticks.values.isEmpty)
            #expect(ticks.values.allSatisfy { $0.isFinite })
        }
    }

    @Test func minimumStep() {
        let weeks = NiceTicks.within(1, 3, minimumStep: 1)
        #expect(weeks.values == [1, 2, 3])
        let tiny = NiceTicks.within(0, 0.5, minimumStep: 1)
        #expect(tiny.step >= 1)
    }
}
