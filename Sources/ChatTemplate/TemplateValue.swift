import Foundation
import HostUtility

/// A value inside a chat template, with Python's meanings as Jinja2 gives them to templates:
/// truthiness, `str()`, `repr()`, equality and JSON as transformers' `tojson` writes it.
public indirect enum TemplateValue: Sendable {
    /// A name or key that does not exist (Jinja2's `Undefined`): renders as "", is falsy, and
    /// fails when something is asked of it. `name` is what was looked up, for the message.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([TemplateValue])
    /// A mapping in insertion order (JSON objects keep their order, as Python's dicts do).
    case dict(TemplateDict)
    /// `namespace(...)`: the one mutable object templates have.
    case namespace(TemplateNamespace)
    /// A builtin function or a macro.
    case callable(TemplateCallable)

    public var isUndefined: Bool { if case .undefined = self { return true }; return false }

    /// Python's `bool(x)`.
    public var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .double(d): return d != 0
        case let .string(s): return !s.isEmpty
        case let .list(l): return !l.isEmpty
        case let .dict(d): return !d.isEmpty
        case .namespace, .callable: return true
        }
    }

    /// Python's `str(x)`, what `{{ x }}` writes (Undefined writes nothing).
    public var text: String {
        switch self {
        case .undefined: return ""
        case let .string(s): return s
        default: return repr
        }
    }

    /// Python's `repr(x)`.
    public var repr: String { repr(depth: 0) }

    /// Nested past 1,000 levels (a template can build such a value in a loop) prints "...", where
    /// Python would stop with a RecursionError.
    func repr(depth: Int) -> String {
        guard depth < 1000 else { return "..." }
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .double(d): return Self.pythonFloat(d)
        case let .string(s): return Self.pythonStringRepr(s)
        case let .list(l): return "[" + l.map { $0.repr(depth: depth + 1) }.joined(separator: ", ") + "]"
        case let .dict(d): return "{" + d.entries.map { "\($0.key.repr(depth: depth + 1)): \($0.value.repr(depth: depth + 1))" }.joined(separator: ", ") + "}"
        case .namespace: return "<Namespace>"
        case .callable: return "<function>"
        }
    }

    /// Python's `repr(float)`: the shortest text that reads back, with ".0" for whole numbers.
    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == d.rounded(), abs(d) < 1e16 { return String(format: "%.1f", d) }
        var s = "\(d)"
        // Swift writes 1e-05 as "1e-05" like Python; both use the shortest round-trip digits.
        if s.contains("e") && !s.contains("e-") && !s.contains("e+") { s = s.replacingOccurrences(of: "e", with: "e+") }
        return s
    }

    /// Python's `repr(str)`: single quotes unless the text has one and no double quote.
    static func pythonStringRepr(_ s: String) -> String {
        let quote: Unicode.Scalar = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        return QuotedLiteral(quote: quote, namesBackspaceAndFormFeed: false, escapesDelete: true, hexEscape: .lowercaseByte).quoted(s)
    }

    /// Python's `==` between template values (values nested past 1,000 levels compare unequal).
    public static func equal(_ a: TemplateValue, _ b: TemplateValue, depth: Int = 0) -> Bool {
        guard depth < 1000 else { return false }
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.int(x), .double(y)), let (.double(y), .int(x)): return Double(x) == y
        case let (.bool(x), .int(y)), let (.int(y), .bool(x)): return (x ? 1 : 0) == y
        case let (.string(x), .string(y)): return x == y
        case let (.list(x), .list(y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1, depth: depth + 1) }
        case let (.dict(x), .dict(y)):
            return x.count == y.count && x.entries.allSatisfy { e in y[e.key].map { equal($0, e.value, depth: depth + 1) } ?? false }
        case let (.namespace(x), .namespace(y)): return x === y
        default: return false
        }
    }

    /// A JSON object parsed in file order (`JSONSerialization` forgets the order of keys).
    public static func parseJSON(_ text: String) throws -> TemplateValue {
        var reader = OrderedJSONReader(Array(text.utf8))
        let value = try reader.value()
        reader.skipSpace()
        guard reader.atEnd else { throw reader.failure("trailing characters after the JSON value") }
        return value
    }
}

/// A string-keyed mapping that keeps insertion order. Keys are template values so that a
/// template's own dict literals with number keys work too.
public struct TemplateDict: Sendable {
    public private(set) var entries: [(key: TemplateValue, value: TemplateValue)] = []

    public init() {}
    public init(_ pairs: [(String, TemplateValue)]) { for (k, v) in pairs { self[.string(k)] = v } }

    /// Pairs whose keys are known to differ (the renderer's own `loop`), taken as they are.
    init(distinct pairs: [(key: TemplateValue, value: TemplateValue)]) { entries = pairs }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public subscript(key: TemplateValue) -> TemplateValue? {
        get { entries.first { TemplateValue.equal($0.key, key) }?.value }
        set {
            if let i = entries.firstIndex(where: { TemplateValue.equal($0.key, key) }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    public subscript(key: String) -> TemplateValue? { self[.string(key)] }
}

/// `namespace(...)`: attributes a template may set from inside a loop.
public final class TemplateNamespace: @unchecked Sendable {
    var attributes = TemplateDict()
    init(_ attributes: TemplateDict) { self.attributes = attributes }
}

/// A function a template can call: positional and keyword arguments in, a value out.
public struct TemplateCallable: Sendable {
    let name: String
    let call: @Sendable ([TemplateValue], [(String, TemplateValue)]) throws -> TemplateValue
}

/// Reads JSON keeping each object's key order, as Python's `json.loads` does.
struct OrderedJSONReader {
    let bytes: [UInt8]
    var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }

    func failure(_ what: String) -> TemplateError { .json("\(what) at byte \(i)") }

    mutating func skipSpace() { while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 } }

    mutating func value(depth: Int = 0) throws -> TemplateValue {
        guard depth < 512 else { throw failure("JSON nested deeper than 512 levels") }
        skipSpace()
        guard i < bytes.count else { throw failure("unexpected end of JSON") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var dict = TemplateDict()
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(dict) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw failure("expected a string key") }
                let key = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw failure("expected ':'") }
                i += 1
                dict[.string(key)] = try value(depth: depth + 1)
                skipSpace()
                guard i < bytes.count else { throw failure("unterminated object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(dict) }
                throw failure("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var list: [TemplateValue] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .list(list) }
            while true {
                list.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw failure("unterminated array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .list(list) }
                throw failure("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .none
        default: return try number()
        }
    }

    mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw failure("invalid literal") }
        i += w.count
    }

    mutating func number() throws -> TemplateValue {
        let start = i
        while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if let n = Int(text) { return .int(n) }
        if let d = Double(text), !text.isEmpty { return .double(d) }
        throw failure("invalid number '\(text)'")
    }

    mutating func string() throws -> String {
        i += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() { scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars); raw.removeAll() }
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; flush(); return String(scalars) }
            if b < 0x20 { throw failure("control character in a string") }
            if b != UInt8(ascii: "\\") { raw.append(b); i += 1; continue }
            flush()
            i += 1
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "b"): scalars.append("\u{8}")
            case UInt8(ascii: "f"): scalars.append("\u{C}")
            case UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "\""): scalars.append(Unicode.Scalar(e))
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                    i += 2
                    let low = try hex4()
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let s = Unicode.Scalar(code) else { throw failure("invalid \\u escape") }
                scalars.append(s)
            default: throw failure("invalid escape")
            }
        }
        throw failure("unterminated string")
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
            throw failure("invalid \\u escape")
        }
        i += 4
        return v
    }
}
