/// The StackExchange reference's `strip_html_tags` (docs/spec/data.md §4.2): parse leniently
/// as BeautifulSoup with Python's `html.parser` does (no implied end tags, stray end tags
/// ignored, void elements closed at once, entities decoded), then keep only
/// - top-level `<p>`: the concatenation of its DIRECT text children (inline markup is lost);
/// - top-level `<pre>`: `<code>` + all text + `</code>` for every descendant `<code>`;
/// - top-level `<code>`: `<code>` + all its text + `</code>`;
/// joined by blank lines. Top-level text and every other element are dropped.
public enum HTMLStripper {
    public static func strip(_ html: String) -> String {
        let root = HTMLTreeBuilder.parse(html)
        var pieces: [String] = []
        for case let .element(e) in root.children {
            switch e.name {
            case "p":
                pieces.append(e.children.map { child -> String in
                    switch child {
                    case let .text(t), let .comment(t): return t // bs4 comments are strings too
                    case .element: return ""
                    }
                }.joined())
            case "pre":
                for code in e.descendants(named: "code") { pieces.append("<code>" + code.text + "</code>") }
            case "code":
                pieces.append("<code>" + e.text + "</code>")
            default:
                break
            }
        }
        return pieces.joined(separator: "\n\n")
    }
}

/// A parsed element: its lower-cased name and children in document order.
final class HTMLElement {
    enum Child {
        case text(String)
        case comment(String)
        case element(HTMLElement)
    }

    let name: String
    var children: [Child] = []

    init(name: String) { self.name = name }

    // Nothing here recurses, the teardown included: the input sets the nesting depth (tens of
    // thousands of unclosed tags), and a recursive walk or release would overflow the stack.
    deinit {
        var pending = elementChildren
        children = []
        while let e = pending.popLast() {
            pending += e.elementChildren
            e.children = []   // released here, with no children left to release in turn
        }
    }

    private var elementChildren: [HTMLElement] {
        children.compactMap { if case let .element(e) = $0 { return e } else { return nil } }
    }

    /// `get_text()`: every descendant text node in document order, comments excluded.
    var text: String {
        var out = ""
        var pending = Array(children.reversed())
        while let child = pending.popLast() {
            switch child {
            case let .text(t): out += t
            case .comment: break
            case let .element(e): pending += e.children.reversed()
            }
        }
        return out
    }

    /// `find_all(name)`: matching descendants in document order (nested matches included).
    func descendants(named name: String) -> [HTMLElement] {
        var found: [HTMLElement] = []
        var pending = Array(elementChildren.reversed())
        while let e = pending.popLast() {
            if e.name == name { found.append(e) }
            pending += e.elementChildren.reversed()
        }
        return found
    }
}

/// A lenient tokenizer and tree builder following `html.parser` + BeautifulSoup's rules.
enum HTMLTreeBuilder {
    /// Elements BeautifulSoup closes as soon as they open.
    static let voidElements: Set<String> = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "menuitem", "meta", "param",
        "source", "track", "wbr", "basefont", "bgsound", "command", "frame", "image", "isindex", "nextid", "spacer",
    ]
    /// Elements whose content `html.parser` reads as raw text up to the matching end tag.
    static let rawTextElements: Set<String> = ["script", "style"]

    static func parse(_ html: String) -> HTMLElement {
        let s = Array(html.utf8)
        let root = HTMLElement(name: "[document]")
        var stack = [root]
        var i = 0
        var textStart = 0

        func flushText(upTo end: Int) {
            guard end > textStart else { return }
            stack.last!.children.append(.text(decodeEntities(s[textStart..<end])))
        }
        func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
        func find(_ needle: [UInt8], from: Int) -> Int? {
            guard needle.count <= s.count else { return nil }
            var k = from
            while k + needle.count <= s.count {
                if s[k] == needle[0] && Array(s[k..<k + needle.count]) == needle { return k }
                k += 1
            }
            return nil
        }
        func lower(_ bytes: ArraySlice<UInt8>) -> String {
            String(decoding: bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        }
        /// End of a tag starting at `from` (index of its '>'), skipping quoted attribute values.
        func tagEnd(from: Int) -> Int? {
            var k = from
            var quote: UInt8?
            while k < s.count {
                let b = s[k]
                if let q = quote {
                    if b == q { quote = nil }
                } else if b == UInt8(ascii: ">") {
                    return k
                } else if (b == UInt8(ascii: "\"") || b == UInt8(ascii: "'")) && k > from && s[k - 1] == UInt8(ascii: "=") {
                    quote = b
                }
                k += 1
            }
            return nil
        }

        while i < s.count {
            guard s[i] == UInt8(ascii: "<"), i + 1 < s.count else { i += 1; continue }
            let next = s[i + 1]
            if isLetter(next) {
                // Start tag: name up to whitespace, '/' or '>'.
                guard let close = tagEnd(from: i + 1) else { i += 1; continue } // unterminated: text
                flushText(upTo: i)
                var n = i + 1
                while n < close, ![0x20, 0x09, 0x0A, 0x0D, 0x0C, UInt8(ascii: "/")].contains(s[n]) { n += 1 }
                let name = lower(s[(i + 1)..<n])
                let selfClosing = s[close - 1] == UInt8(ascii: "/")
                let element = HTMLElement(name: name)
                stack.last!.children.append(.element(element))
                i = close + 1
                if rawTextElements.contains(name) {
                    let endTag = Array("</\(name)".utf8)
                    let end = findCaseInsensitive(s, endTag, from: i) ?? s.count
                    if end > i { element.children.append(.text(String(decoding: s[i..<end], as: UTF8.self))) }
                    i = end < s.count ? (tagEnd(from: end) ?? s.count - 1) + 1 : s.count
                } else if !selfClosing && !voidElements.contains(name) {
                    stack.append(element)
                }
                textStart = i
            } else if next == UInt8(ascii: "/") {
                guard let close = tagEnd(from: i + 2) else { i += 1; continue }
                flushText(upTo: i)
                var n = i + 2
                while n < close, ![0x20, 0x09, 0x0A, 0x0D, 0x0C, UInt8(ascii: "/")].contains(s[n]) { n += 1 }
                let name = lower(s[(i + 2)..<n])
                // Pop to the innermost open element of that name; a stray end tag changes nothing.
                if let k = stack.lastIndex(where: { $0.name == name }), k > 0 { stack.removeSubrange(k...) }
                i = close + 1
                textStart = i
            } else if next == UInt8(ascii: "!") || next == UInt8(ascii: "?") {
                flushText(upTo: i)
                if next == UInt8(ascii: "!"), i + 3 < s.count, s[i + 2] == UInt8(ascii: "-"), s[i + 3] == UInt8(ascii: "-") {
                    let end = find(Array("-->".utf8), from: i + 4) ?? s.count
                    stack.last!.children.append(.comment(String(decoding: s[(i + 4)..<end], as: UTF8.self)))
                    i = min(end + 3, s.count)
                } else {
                    i = (tagEnd(from: i + 2) ?? s.count - 1) + 1 // declarations and processing instructions
                }
                textStart = i
            } else {
                i += 1 // a lone '<' is text
            }
        }
        flushText(upTo: s.count)
        return root
    }

    static func findCaseInsensitive(_ s: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        var k = from
        while k + needle.count <= s.count {
            var match = true
            for j in 0..<needle.count where (s[k + j] | 0x20) != (needle[j] | 0x20) {
                match = false
                break
            }
            if match { return k }
            k += 1
        }
        return nil
    }

    /// Character references as BeautifulSoup decodes them: known names, decimal and hex numbers
    /// (128-159 read as windows-1252); an unknown name is kept as `&name`.
    static func decodeEntities(_ bytes: ArraySlice<UInt8>) -> String {
        guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
        var out = String.UnicodeScalarView()
        let text = String(decoding: bytes, as: UTF8.self).unicodeScalars
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            guard c == "&" else { out.append(c); i = text.index(after: i); continue }
            var j = text.index(after: i)
            if j < text.endIndex, text[j] == "#" {
                // Numeric: &#123; or &#x7B; (the ';' is optional).
                j = text.index(after: j)
                var hex = false
                if j < text.endIndex, text[j] == "x" || text[j] == "X" { hex = true; j = text.index(after: j) }
                let digitsStart = j
                while j < text.endIndex, text[j].properties.isASCIIHexDigit, hex || ("0"..."9").contains(text[j]) {
                    j = text.index(after: j)
                }
                guard j > digitsStart, let value = UInt32(String(text[digitsStart..<j]), radix: hex ? 16 : 10) else {
                    out.append(c); i = text.index(after: i); continue
                }
                if j < text.endIndex, text[j] == ";" { j = text.index(after: j) }
                out.append(characterReference(value))
                i = j
            } else {
                // Named: &name followed by a non-alphanumeric character (a ';' is consumed).
                let nameStart = j
                while j < text.endIndex, text[j].properties.isASCIIHexDigit || ("a"..."z").contains(text[j])
                        || ("A"..."Z").contains(text[j]) || ("0"..."9").contains(text[j]) {
                    j = text.index(after: j)
                }
                let name = String(text[nameStart..<j])
                guard !name.isEmpty, let first = name.unicodeScalars.first, first.properties.isAlphabetic else {
                    out.append(c); i = text.index(after: i); continue
                }
                if j < text.endIndex, text[j] == ";" { j = text.index(after: j) }
                if let v = htmlEntities[name], let scalar = Unicode.Scalar(v) {
                    out.append(scalar)
                } else {
                    out.append(contentsOf: ("&" + name).unicodeScalars)
                }
                i = j
            }
        }
        return String(out)
    }

    static let windows1252: [UInt32: UInt32] = [
        0x80: 0x20AC, 0x82: 0x201A, 0x83: 0x192, 0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021, 0x88: 0x2C6,
        0x89: 0x2030, 0x8A: 0x160, 0x8B: 0x2039, 0x8C: 0x152, 0x8E: 0x17D, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201C,
        0x94: 0x201D, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x2DC, 0x99: 0x2122, 0x9A: 0x161, 0x9B: 0x203A,
        0x9C: 0x153, 0x9E: 0x17E, 0x9F: 0x178,
    ]

    static func characterReference(_ value: UInt32) -> Unicode.Scalar {
        Unicode.Scalar(windows1252[value] ?? value) ?? "\u{FFFD}"
    }
}
