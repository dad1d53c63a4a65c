/// Splits a SQL script into its statements at top-level semicolons, for servers reached through
/// the extended query protocol (one statement per query). Understands what can hide a
/// semicolon: 'strings' (with ''), "identifiers", -- line comments, /* nested block comments */
/// and $tag$ dollar-quoted bodies $tag$. Statements that are only comments are dropped.
public enum SQLScript {
    public static func statements(_ sql: String) -> [String] {
        let s = Array(sql.unicodeScalars)
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var meaningful = false
        var i = 0
        func flush() {
            let text = String(current).trimmingWhitespace()
            if meaningful && !text.isEmpty { out.append(text) }
            current = String.UnicodeScalarView()
            meaningful = false
        }
        func copy(_ count: Int) {
            for k in 0..<count where i + k < s.count { current.append(s[i + k]) }
            i += count
        }
        while i < s.count {
            let c = s[i], next: Unicode.Scalar? = i + 1 < s.count ? s[i + 1] : nil
            switch c {
            case "'", "\"":
                meaningful = true
                copy(1)
                while i < s.count {
                    if s[i] == c {
                        if i + 1 < s.count && s[i + 1] == c { copy(2); continue }
                        copy(1)
                        break
                    }
                    copy(1)
                }
            case "-" where next == "-":
                while i < s.count && s[i] != "\n" { copy(1) }
            case "/" where next == "*":
                var depth = 0
                repeat {
                    if s[i] == "/" && i + 1 < s.count && s[i + 1] == "*" { depth += 1; copy(2) }
                    else if s[i] == "*" && i + 1 < s.count && s[i + 1] == "/" { depth -= 1; copy(2) }
                    else { copy(1) }
                } while i < s.count && depth > 0
            case "$":
                // $tag$ … $tag$ (tag: letters, digits, _; not starting with a digit), or $1 parameters.
                var j = i + 1
                while j < s.count && (s[j].properties.isAlphabetic || s[j] == "_" || (j > i + 1 && ("0"..."9").contains(s[j]))) { j += 1 }
                if j < s.count && s[j] == "$" {
                    let tag = Array(s[i...j])
                    meaningful = true
                    copy(tag.count)
                    while i < s.count {
                        if s[i] == "$" && i + tag.count <= s.count && Array(s[i..<(i + tag.count)]) == tag { copy(tag.count); break }
                        copy(1)
                    }
                } else {
                    meaningful = true
                    copy(1)
                }
            case ";":
                i += 1
                flush()
            default:
                if !c.properties.isWhitespace { meaningful = true }
                copy(1)
            }
        }
        flush()
        return out
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
