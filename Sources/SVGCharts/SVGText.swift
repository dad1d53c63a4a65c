// Text and number helpers shared by the charts.
//
// The charts' output is inserted *unescaped* into HTML (`{{{chart}}}`), and every label in it
// may come from a user. So every piece of text goes through `SVGText.escape` (which also drops
// characters XML 1.0 forbids), and visible labels additionally through `SVGText.label`, which
// collapses whitespace, caps stacked combining marks and truncates to a width with "…".
// Numbers are formatted here by hand: fixed decimals, "." as the separator whatever the
// locale, never "nan"/"inf", never "-0".

import Foundation

public enum SVGText {
    /// Upper bound on the text kept for a `<title>` tooltip (characters after sanitising).
    public static let maximumTitleCharacters = 4_000
    /// Upper bound on the Unicode scalars looked at in any one input string; the rest is dropped
    /// before any other work, so a multi-megabyte label costs no more than a 16,000-scalar one.
    public static let maximumInputScalars = 16_000
    /// Combining marks kept per character in *visible* labels ("Zalgo" text would otherwise
    /// stack marks over the neighbouring rows). Titles keep them all.
    public static let maximumMarksPerCharacter = 4

    // MARK: Escaping

    /// Escapes `&`, `<`, `>`, `"` and `'` for use in XML/HTML text or a double-quoted attribute
    /// value, and removes what XML 1.0 does not allow (C0 controls other than tab, line feed
    /// and carriage return; DEL and the C1 controls are removed too). Unicode noncharacters
    /// (U+FFFE, U+FFFF, U+FDD0…U+FDEF, U+nFFFE/F) become U+FFFD.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                if let kept = xmlSafe(scalar) { out.unicodeScalars.append(kept) }
            }
        }
        return out
    }

    /// The scalar itself, U+FFFD for a noncharacter, or nil when XML 1.0 forbids it (or it is
    /// a control character other than tab, line feed or carriage return).
    static func xmlSafe(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        let v = scalar.value
        if v == 0x09 || v == 0x0A || v == 0x0D { return scalar }
        if v < 0x20 || (v >= 0x7F && v <= 0x9F) { return nil }
        if scalar.properties.isNoncharacterCodePoint { return "\u{FFFD}" }
        return scalar
    }

    // MARK: Sanitising

    /// Makes user text presentable: control characters removed, noncharacters replaced by
    /// U+FFFD, every run of whitespace (including line breaks) one space — or, with
    /// `multiline`, line breaks kept as single "\n" — trimmed at both ends. The input is cut
    /// to `maximumInputScalars` first. The result still needs `escape`.
    public static func sanitize(_ text: String, multiline: Bool = false) -> String {
        var out = ""
        var pendingSpace = false
        var pendingNewline = false
        for scalar in text.unicodeScalars.prefix(maximumInputScalars) {
            let v = scalar.value
            let isBreak = v == 0x0A || v == 0x0D || v == 0x0B || v == 0x0C || v == 0x85 || v == 0x2028 || v == 0x2029
            if isBreak && multiline {
                pendingNewline = true
                continue
            }
            if isBreak || scalar.properties.isWhitespace {
                pendingSpace = true
                continue
            }
            guard let kept = xmlSafe(scalar) else { continue }
            if !out.isEmpty {
                if pendingNewline { out += "\n" } else if pendingSpace { out += " " }
            }
            pendingSpace = false
            pendingNewline = false
            out.unicodeScalars.append(kept)
        }
        return out
    }

    /// Text for a `<title>` tooltip: sanitised (line breaks kept), at most
    /// `maximumTitleCharacters` characters (then "…"). Not escaped.
    public static func tooltip(_ text: String) -> String {
        let clean = sanitize(text, multiline: true)
        guard clean.count > maximumTitleCharacters else { return clean }
        return String(clean.prefix(maximumTitleCharacters - 1)) + "…"
    }

    /// A visible, single-line label: sanitised, combining marks capped per character, and cut
    /// (on a character boundary, never inside one) so its estimated width at `fontSize` is at
    /// most `maxWidth`, ending in "…" when cut. Empty text becomes `placeholder`. Not escaped.
    public static func label(
        _ text: String, maxWidth: Double, fontSize: Double, placeholder: String = "(empty)"
    ) -> (text: String, truncated: Bool) {
        var clean = capMarks(sanitize(text))
        if clean.isEmpty { clean = placeholder }
        return fit(clean, maxWidth: maxWidth, fontSize: fontSize)
    }

    /// Cuts `text` to `maxWidth` (estimated), appending "…" when something was cut.
    static func fit(_ text: String, maxWidth: Double, fontSize: Double) -> (text: String, truncated: Bool) {
        if estimatedWidth(text, fontSize: fontSize) <= maxWidth { return (text, false) }
        let ellipsis: Character = "…"
        var width = characterWidth(ellipsis) * fontSize
        var out = ""
        for character in text {
            let w = characterWidth(character) * fontSize
            if width + w > maxWidth { break }
            out.append(character)
            width += w
        }
        while let last = out.last, last.isWhitespace { out.removeLast() }
        out.append(ellipsis)
        return (out, true)
    }

    /// Drops combining marks beyond `maximumMarksPerCharacter` within each character.
    static func capMarks(_ text: String) -> String {
        var out = ""
        for character in text {
            guard character.unicodeScalars.count > maximumMarksPerCharacter + 1 else {
                out.append(character)
                continue
            }
            var marks = 0
            var kept = String.UnicodeScalarView()
            for scalar in character.unicodeScalars {
                switch scalar.properties.generalCategory {
                case .nonspacingMark, .enclosingMark, .spacingMark:
                    marks += 1
                    if marks <= maximumMarksPerCharacter { kept.append(scalar) }
                default:
                    kept.append(scalar)
                }
            }
            out += String(kept)
        }
        return out
    }

    // MARK: Width estimates

    /// A deliberately generous estimate of how wide `text` renders in a sans-serif font of
    /// `fontSize` (there are no font metrics on the server). Used to size the label column
    /// and to truncate, so over-estimating is the safe side.
    public static func estimatedWidth(_ text: String, fontSize: Double) -> Double {
        var em = 0.0
        for character in text { em += characterWidth(character) }
        return em * fontSize
    }

    /// Width of one character in em.
    static func characterWidth(_ character: Character) -> Double {
        guard let scalar = character.unicodeScalars.first else { return 0 }
        let v = scalar.value
        // Roughly DejaVu Sans (the widest common fallback for system-ui), rounded up.
        switch v {
        case 0x20: return 0.32
        case 0x69, 0x6A, 0x6C, 0x49, 0x2E, 0x2C, 0x3A, 0x3B, 0x21, 0x7C, 0x27, 0x60: return 0.34  // i j l I . , : ; ! | ' `
        case 0x66, 0x74, 0x72, 0x28, 0x29, 0x5B, 0x5D, 0x7B, 0x7D, 0x2F, 0x5C, 0x2D, 0x22: return 0.46  // f t r ( ) [ ] { } / \ - "
        case 0x6D, 0x77, 0x4D, 0x57, 0x40, 0x25: return 1.0  // m w M W @ %
        case 0x3C, 0x3E, 0x3D, 0x2B, 0x7E, 0x23, 0x26: return 0.86  // < > = + ~ # &
        case 0x41...0x5A: return 0.78  // other capitals
        case 0x30...0x39: return 0.66  // digits
        case 0x61...0x7A: return 0.64  // other lower case
        case 0x21...0x7E: return 0.66  // other ASCII punctuation
        case 0x2026: return 1.0  // …
        case 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F,
            0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F000...0x1FAFF, 0x20000...0x3FFFD:
            return 1.10  // wide: CJK, Hangul, full-width forms, emoji
        default: return 0.75
        }
    }

    // MARK: Numbers

    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var p = 1.0
        for _ in 0..<exponent { p *= 10 }
        return p
    }

    /// 10^exponent; exact for |exponent| ≤ 22 (a division for negative exponents, which gives
    /// the double nearest to the decimal value).
    static func power10(_ exponent: Int) -> Double {
        if exponent >= 0 && exponent <= 22 { return powersOfTen[exponent] }
        return pow(10, Double(exponent))
    }

    /// `value` with exactly `decimals` decimals (0…12), "." as the separator, ASCII "-" for
    /// negatives, rounding half away from zero; a value that rounds to zero prints without a
    /// sign. With `plusSign`, positive values get a "+". NaN prints "n/a" and infinities
    /// "∞"/"-∞"; magnitudes too large to print in full (≥ 9·10^18 after scaling) use fewer
    /// decimals, and from 10^18 on an exponent form like "1.23e+20".
    public static func fixed(_ value: Double, decimals: Int, plusSign: Bool = false) -> String {
        if value.isNaN { return "n/a" }
        if value.isInfinite { return value > 0 ? (plusSign ? "+∞" : "∞") : "-∞" }
        var places = min(max(decimals, 0), 12)
        let magnitude = abs(value)
        if magnitude >= 1e18 { return scientific(value, plusSign: plusSign) }
        while places > 0 && magnitude * power10(places) >= 9e18 { places -= 1 }
        let scale = power10(places)
        let scaled = (magnitude * scale).rounded(.toNearestOrAwayFromZero)
        let n = UInt64(scaled)
        let unit = UInt64(scale)
        let integerPart = n / unit
        var text = String(integerPart)
        if places > 0 {
            let fraction = String(n % unit)
            text += "." + String(repeating: "0", count: places - fraction.count) + fraction
        }
        if n == 0 { return text }
        if value < 0 { return "-" + text }
        return plusSign ? "+" + text : text
    }

    /// "1.23e+20" — three significant digits; only for magnitudes of 10^18 and more.
    static func scientific(_ value: Double, plusSign: Bool) -> String {
        let magnitude = abs(value)
        var exponent = Int(log10(magnitude).rounded(.down))
        var mantissa = magnitude / pow(10, Double(exponent))
        if mantissa >= 9.995 {
            mantissa /= 10
            exponent += 1
        }
        let sign = value < 0 ? "-" : (plusSign ? "+" : "")
        return sign + fixed(mantissa, decimals: 2) + "e+" + String(exponent)
    }

    /// A coordinate or length for an attribute: at most two decimals, trailing zeros dropped
    /// ("12", "12.5", "12.25"); non-finite values print "0" (the charts never produce them).
    public static func coordinate(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        var text = fixed(value, decimals: 2)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    /// A value printed with up to `maximumDecimals` decimals, trailing zeros dropped.
    static func trimmed(_ value: Double, maximumDecimals: Int) -> String {
        var text = fixed(value, decimals: maximumDecimals)
        guard value.isFinite, text.contains("."), !text.contains("e") else { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    // MARK: Dates

    /// "yyyy-MM-dd" in UTC for seconds since 1970, computed by hand (no DateFormatter, no
    /// locale, no calendar settings). Non-finite input prints "n/a".
    public static func utcDate(_ secondsSince1970: Double) -> String {
        guard secondsSince1970.isFinite, abs(secondsSince1970) < 1e14 else { return "n/a" }
        let days = Int64((secondsSince1970 / 86_400).rounded(.down))
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0" + String(n) : String(n) }
        let yearText = year >= 0 && year < 1000 ? String(repeating: "0", count: 4 - String(year).count) + String(year) : String(year)
        return yearText + "-" + two(month) + "-" + two(day)
    }
}

/// How a chart prints values: `decimals` fixed decimals of `value × multiplier`, then
/// `suffix`; `plusSign` puts "+" before positive values (for changes/deltas).
public struct ChartValueFormat: Sendable, Hashable {
    public var decimals: Int
    public var multiplier: Double
    public var suffix: String
    public var plusSign: Bool

    public init(decimals: Int, multiplier: Double = 1, suffix: String = "", plusSign: Bool = false) {
        self.decimals = decimals
        self.multiplier = multiplier
        self.suffix = suffix
        self.plusSign = plusSign
    }

    /// "0.123"
    public static func fixed(_ decimals: Int) -> ChartValueFormat { .init(decimals: decimals) }
    /// "+0.123", "-0.050", "0.000"
    public static func signed(_ decimals: Int) -> ChartValueFormat { .init(decimals: decimals, plusSign: true) }
    /// 0.123 → "12.3%"
    public static func percent(_ decimals: Int) -> ChartValueFormat {
        .init(decimals: decimals, multiplier: 100, suffix: "%")
    }
    /// 0.123 → "+12.3 pp" (a change of a proportion, in percentage points)
    public static func percentagePoints(_ decimals: Int) -> ChartValueFormat {
        .init(decimals: decimals, multiplier: 100, suffix: " pp", plusSign: true)
    }

    /// The printed value (not escaped). NaN prints "n/a" (no suffix); infinities "+∞"/"-∞".
    public func string(_ value: Double) -> String {
        if value.isNaN { return "n/a" }
        let scaled = value * multiplier
        return SVGText.fixed(scaled, decimals: decimals, plusSign: plusSign) + suffix
    }
}

// MARK: - Output builder

/// Accumulates SVG markup. Element and attribute names are literals from this module;
/// attribute values and text are always escaped here.
struct SVGWriter {
    private(set) var output = ""

    static let fontFamily = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"

    mutating func open(_ name: String, _ attributes: KeyValuePairs<String, String> = [:]) {
        output += "<" + name
        append(attributes)
        output += ">"
    }

    mutating func close(_ name: String) {
        output += "</" + name + ">\n"
    }

    /// `<name attrs/>`
    mutating func empty(_ name: String, _ attributes: KeyValuePairs<String, String>) {
        output += "<" + name
        append(attributes)
        output += "/>\n"
    }

    /// `<name attrs>text</name>` with `text` escaped.
    mutating func element(_ name: String, _ attributes: KeyValuePairs<String, String> = [:], text: String) {
        output += "<" + name
        append(attributes)
        output += ">" + SVGText.escape(text) + "</" + name + ">\n"
    }

    /// `<title>text</title>`; `text` is sanitised for a tooltip and escaped.
    mutating func title(_ text: String) {
        element("title", text: SVGText.tooltip(text))
    }

    mutating func newline() { output += "\n" }

    private mutating func append(_ attributes: KeyValuePairs<String, String>) {
        for (key, value) in attributes {
            output += " " + key + "=\"" + SVGText.escape(value) + "\""
        }
    }

    /// The root element: `role="img"`, an aria-label, width 100 % and a viewBox, then the
    /// `<title>` (first child, as accessibility requires) and a `<desc>`.
    mutating func openRoot(kind: String, width: Double, height: Double, title: String, summary: String) {
        let label = SVGText.sanitize(title)
        let ariaLabel = label.isEmpty ? summary : label + ". " + summary
        open(
            "svg",
            [
                "xmlns": "http://www.w3.org/2000/svg",
                "class": "chart chart-" + kind,
                "viewBox": "0 0 " + SVGText.coordinate(width) + " " + SVGText.coordinate(height),
                "width": "100%",
                "preserveAspectRatio": "xMidYMid meet",
                "role": "img",
                "aria-label": String(ariaLabel.prefix(500)),
                "font-family": SVGWriter.fontFamily,
                "font-size": SVGText.coordinate(ChartStyle.fontSize),
            ]
        )
        newline()
        self.title(label.isEmpty ? summary : title)
        element("desc", text: SVGText.tooltip(summary))
    }

    /// A small chart that says "No data".
    static func noData(kind: String, width: Double, title: String) -> String {
        var w = SVGWriter()
        let height = 48.0
        w.openRoot(kind: kind + " chart-empty", width: width, height: height, title: title, summary: "No data")
        w.empty(
            "rect",
            [
                "class": "frame", "x": "0.5", "y": "0.5",
                "width": SVGText.coordinate(width - 1), "height": SVGText.coordinate(height - 1),
                "fill": "#ffffff", "stroke": ChartStyle.grid, "rx": "4",
            ]
        )
        w.element(
            "text",
            [
                "x": SVGText.coordinate(width / 2), "y": SVGText.coordinate(height / 2), "dy": "0.35em",
                "text-anchor": "middle", "fill": ChartStyle.muted,
            ],
            text: "No data"
        )
        w.close("svg")
        return w.output
    }
}

/// Colours and sizes. Every colour used for text or data has at least 4.5:1 contrast against
/// white (WCAG AA for normal text); gridlines are decorative.
enum ChartStyle {
    static let fontSize = 12.0
    static let text = "#1d2430"  // 15.6:1
    static let muted = "#5b6675"  // 5.8:1
    static let axis = "#5b6675"
    static let grid = "#d9dee5"
    static let zeroAxis = "#1d2430"
    static let positive = "#007a5a"  // bluish green, 5.3:1
    static let negative = "#c2410c"  // vermillion, 5.2:1
    /// Okabe–Ito hues, darkened to ≥ 5:1 against white: blue, vermillion, bluish green,
    /// reddish purple, ochre, near-black.
    static let palette = ["#0072b2", "#c2410c", "#007a5a", "#a24c80", "#8a6100", "#1d2430"]
    /// Dash patterns so series stay apart without colour (WCAG 1.4.1); "" is solid.
    static let dashes = ["", "7 3", "2 3", "9 3 2 3", "13 4", ""]
}
