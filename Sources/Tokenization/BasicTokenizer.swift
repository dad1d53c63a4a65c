import Foundation

/// BERT's normaliser and pre-tokeniser: text cleaning, CJK spacing, accent stripping,
/// lower-casing, then a split on whitespace (dropped) and punctuation (kept, one per word).
public struct BasicTokenizer: Sendable {
    public var cleanText = true
    public var handleChineseChars = true
    /// nil follows `lowercase`, as BERT does.
    public var stripAccents: Bool?
    public var lowercase = true

    public init(lowercase: Bool = true, stripAccents: Bool? = nil, handleChineseChars: Bool = true, cleanText: Bool = true) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        self.handleChineseChars = handleChineseChars
        self.cleanText = cleanText
    }

    /// The normalised text as Unicode scalars.
    public func normalize(_ text: String) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            if cleanText {
                if s.value == 0 || s.value == 0xFFFD || UnicodeClasses.isControl(s) { continue }
                if UnicodeClasses.isWhitespace(s) {
                    scalars.append(" ")
                    continue
                }
            }
            if handleChineseChars && UnicodeClasses.isCJK(s) {
                scalars.append(" ")
                scalars.append(s)
                scalars.append(" ")
            } else {
                scalars.append(s)
            }
        }
        if stripAccents ?? lowercase {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            let decomposed = String(view).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for s in scalars {
                if s.properties.changesWhenLowercased {
                    lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                } else {
                    lowered.append(s)
                }
            }
            scalars = lowered
        }
        return scalars
    }

    /// Words of the normalised text: whitespace separates, each punctuation mark is a word.
    public func words(_ text: String) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in normalize(text) {
            if UnicodeClasses.isWhitespace(s) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
            } else if UnicodeClasses.isPunctuation(s) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
