// Parses chart output with Foundation's XMLParser (libxml2 on Linux) into a flat element list,
// and the checks every chart must pass whatever its input.

import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

struct ParsedSVG {
    struct Element {
        var name: String
        var attributes: [String: String]
        /// Text directly inside this element (not in children), entity references decoded.
        var text: String
        var depth: Int
        var parent: Int?
        var children: [Int]

        var classes: [String] { (attributes["class"] ?? "").split(separator: " ").map(String.init) }
        func number(_ attribute: String) -> Double? { attributes[attribute].flatMap(Double.init) }
        /// A numeric attribute; a recorded failure (not a crash) when missing.
        func num(_ attribute: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Double {
            try #require(number(attribute), "no numeric \(attribute) on <\(name)>", sourceLocation: sourceLocation)
        }
    }

    var elements: [Element]

    var root: Element { elements[0] }
    func all(_ name: String) -> [Element] { elements.filter { $0.name == name } }
    func withClass(_ cls: String) -> [Element] { elements.filter { $0.classes.contains(cls) } }
    func children(of element: Element) -> [Element] { element.children.map { elements[$0] } }
    func firstChild(of element: Element, named name: String) -> Element? { children(of: element).first { $0.name == name } }
    /// The `index`th element with class `cls`; a recorded failure (not a crash) when missing.
    func nth(_ cls: String, _ index: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> Element {
        let matches = withClass(cls)
        try #require(index < matches.count, "no element #\(index) with class \(cls)", sourceLocation: sourceLocation)
        return matches[index]
    }
    /// All text of the first child `name` of `element`.
    func childText(of element: Element, named name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        allText(try #require(firstChild(of: element, named: name), "no <\(name)> child", sourceLocation: sourceLocation))
    }
    /// The root's viewBox numbers.
    func viewBox(sourceLocation: SourceLocation = #_sourceLocation) throws -> [Double] {
        let numbers = (root.attributes["viewBox"] ?? "").split(separator: " ").compactMap { Double($0) }
        try #require(numbers.count == 4, sourceLocation: sourceLocation)
        return numbers
    }
    /// Whether the element's parent has class `cls`.
    func parentHasClass(_ element: Element, _ cls: String) -> Bool {
        element.parent.map { elements[$0].classes.contains(cls) } ?? false
    }
    /// All text inside an element, children included.
    func allText(_ element: Element) -> String {
        element.text + element.children.map { allText(elements[$0]) }.joined()
    }
}

struct XMLError: Error, CustomStringConvertible {
    var description: String
}

private final class Collector: NSObject, XMLParserDelegate {
    var elements: [ParsedSVG.Element] = []
    var stack: [Int] = []

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
        attributes attributeDict: [String: String] = [:]
    ) {
        let index = elements.count
        elements.append(
            ParsedSVG.Element(name: elementName, attributes: attributeDict, text: "", depth: stack.count, parent: stack.last, children: [])
        )
        if let parent = stack.last { elements[parent].children.append(index) }
        stack.append(index)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let current = stack.last { elements[current].text += string }
    }
}

/// Parses `svg`; throws when it is not well-formed XML.
func parseSVG(_ svg: String) throws -> ParsedSVG {
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = Collector()
    parser.delegate = collector
    parser.shouldResolveExternalEntities = false
    guard parser.parse() else {
        throw XMLError(description: "not well-formed: \(parser.parserError.map { String(describing: $0) } ?? "unknown error")")
    }
    guard !collector.elements.isEmpty else { throw XMLError(description: "no elements") }
    return ParsedSVG(elements: collector.elements)
}

/// Byte-level substring test (String.contains works on Characters, which a combining mark
/// after the searched text would defeat).
func containsBytes(_ haystack: String, _ needle: String) -> Bool {
    let h = Array(haystack.utf8)
    let n = Array(needle.utf8)
    guard !n.isEmpty, h.count >= n.count else { return n.isEmpty }
    for start in 0...(h.count - n.count) where h[start] == n[0] {
        if h[start..<(start + n.count)].elementsEqual(n) { return true }
    }
    return false
}

/// Attributes whose values must be plain finite numbers.
let numericAttributes: Set<String> = ["x", "y", "x1", "x2", "y1", "y2", "width", "height", "cx", "cy", "r", "rx", "font-size", "stroke-width", "fill-opacity"]

/// The checks every chart output must pass, whatever went in. Returns the parsed document.
@discardableResult
func checkInvariants(_ svg: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ParsedSVG {
    let doc = try parseSVG(svg)
    let root = doc.root
    #expect(root.name == "svg", sourceLocation: sourceLocation)
    #expect(root.attributes["xmlns"] == "http://www.w3.org/2000/svg", sourceLocation: sourceLocation)
    #expect(root.attributes["role"] == "img", sourceLocation: sourceLocation)
    #expect(!(root.attributes["aria-label"] ?? "").isEmpty, sourceLocation: sourceLocation)
    #expect(root.attributes["width"] == "100%", sourceLocation: sourceLocation)
    // The <title> is the root's first child.
    #expect(root.children.first.map { doc.elements[$0].name } == "title", sourceLocation: sourceLocation)
    let viewBox = (root.attributes["viewBox"] ?? "").split(separator: " ").compactMap { Double($0) }
    #expect(viewBox.count == 4 && viewBox[2] > 0 && viewBox[3] > 0, sourceLocation: sourceLocation)

    // Self-contained and CSP-friendly: no scripts, no styles, no links, no event handlers.
    for element in doc.elements {
        #expect(!["script", "style", "foreignObject", "image", "use", "a", "iframe"].contains(element.name), sourceLocation: sourceLocation)
        for (key, value) in element.attributes {
            #expect(key != "style", "style attribute on <\(element.name)>", sourceLocation: sourceLocation)
            #expect(!key.lowercased().hasPrefix("on"), sourceLocation: sourceLocation)
            #expect(!key.contains("href"), sourceLocation: sourceLocation)
            if numericAttributes.contains(key) && element.name != "svg" {
                let number = Double(value)
                #expect(number != nil && number!.isFinite, "\(key)=\"\(value)\" on <\(element.name)>", sourceLocation: sourceLocation)
            }
            if key == "points" {
                for pair in value.split(separator: " ") {
                    let xy = pair.split(separator: ",").map { Double($0) }
                    #expect(xy.count == 2 && xy.allSatisfy { $0?.isFinite == true }, "point \(pair)", sourceLocation: sourceLocation)
                }
            }
        }
    }
    // Nothing that could break out of the markup or trip an HTML parser.
    for needle in ["<script", "<!--", "<![CDATA[", "<?", "\u{0}", "\u{FFFE}", "\u{FFFF}", "style="] {
        #expect(!containsBytes(svg, needle), "output contains \(needle.debugDescription)", sourceLocation: sourceLocation)
    }
    for scalar in svg.unicodeScalars {
        let v = scalar.value
        let allowed = v == 0x09 || v == 0x0A || v == 0x0D || (v >= 0x20 && v < 0x7F) || v > 0x9F
        #expect(allowed, "control character U+\(String(v, radix: 16)) in output", sourceLocation: sourceLocation)
        if !allowed { break }
    }
    return doc
}

/// All coordinate-carrying text in the output is free of "nan" and "inf".
func expectNoNonFiniteNumbers(_ svg: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let lower = svg.lowercased()
    #expect(!lower.contains("nan"), sourceLocation: sourceLocation)
    #expect(!lower.contains("inf"), sourceLocation: sourceLocation)
}

/// A string holding the one scalar `value`.
func scalar(_ value: UInt32) -> String { String(Unicode.Scalar(value)!) }

/// Strings a user could put in a label.
enum Hostile {
    static let script = "<script>alert(1)</script>"
    static let entity = "&amp; &lt; &#x3C; &"
    static let quotes = "He said \"hi\" & 'bye' </text></svg><svg onload=alert(1)>"
    static let controls = "nul\u{0}bell\u{7}esc\u{1B}del\u{7F}c1\u{85}\u{9B}tab\tline\nret\r"
    // (Swift literals reject U+FDD0…U+FDEF, so those are built at run time.)
    static let noncharacters = "a\u{FFFE}b\u{FFFF}c" + scalar(0xFDD0) + "d\u{10FFFF}e"
    static let long = String(repeating: "abcdefghij", count: 200)  // 2,000 characters
    static let combining = String(repeating: "e\u{301}", count: 300)  // 300 × "é" (decomposed)
    static let zalgo = "Z" + String(repeating: "\u{336}\u{321}\u{322}", count: 40) + "algo"
    static let bidi = "abc\u{202E}fed\u{202C}ghi"
    static let emoji = "👩🏽‍💻 family 👨‍👩‍👧‍👦 and 日本語のラベル"
    static let empty = ""
    static let whitespace = " \n\t  "

    static let all = [script, entity, quotes, controls, noncharacters, long, combining, zalgo, bidi, emoji, empty, whitespace]
}
