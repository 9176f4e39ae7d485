/// A parsed JSON value. Numbers are doubles (every count and score in the datasets fits), and
/// booleans stay booleans (Foundation on Linux would hand them back as NSNumber).
public indirect enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// "a string", "a number", ... for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Why a line is not JSON, with the 1-based column (byte) where the parser stopped.
public struct JSONSyntaxError: Error, CustomStringConvertible {
    public let column: Int
    public let reason: String
    public var description: String { "\(reason) (column \(column))" }
}

/// A strict RFC 8259 parser over UTF-8 bytes (already validated). Duplicate keys keep the last
/// value, as Python's json does; a lone surrogate escape becomes U+FFFD.
public struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0
    private var depth = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Parses exactly one value (surrounding whitespace allowed).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
        var p = JSONParser(bytes)
        p.skipWhitespace()
        let value = try p.value()
        p.skipWhitespace()
        if p.i < bytes.count { throw p.error("extra data after the JSON value") }
        return value
    }

    private func error(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(column: i + 1, reason: reason) }

    private func unexpected() -> JSONSyntaxError {
        guard i < bytes.count else { return error("unexpected end of input") }
        let b = bytes[i]
        let shown = b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
        return error("unexpected character \(shown)")
    }

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard i < bytes.count, bytes[i] == byte else { throw unexpected() }
        i += 1
    }

    private mutating func value() throws -> JSONValue {
        guard i < bytes.count else { throw unexpected() }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw unexpected()
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let w = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for b in w {
            guard i < bytes.count, bytes[i] == b else { throw unexpected() }
            i += 1
        }
    }

    private mutating func nested<T>(_ body: (inout JSONParser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 512 else { throw error("nesting deeper than 512 levels") }
        return try body(&self)
    }

    private mutating func object() throws -> JSONValue {
        var fields: [String: JSONValue] = [:]
        try members(closedBy: UInt8(ascii: "}")) { p in
            guard p.i < p.bytes.count, p.bytes[p.i] == UInt8(ascii: "\"") else {
                throw p.i < p.bytes.count ? p.error("expected a quoted key") : p.unexpected()
            }
            let key = try p.string()
            p.skipWhitespace()
            try p.expect(UInt8(ascii: ":"))
            p.skipWhitespace()
            fields[key] = try p.value()
        }
        return .object(fields)
    }

    private mutating func array() throws -> JSONValue {
        var items: [JSONValue] = []
        try members(closedBy: UInt8(ascii: "]")) { p in items.append(try p.value()) }
        return .array(items)
    }

    /// The comma-separated members of an object or array, from its opening byte through `close`;
    /// `member` reads one, starting at its first non-blank byte.
    private mutating func members(closedBy close: UInt8, _ member: (inout JSONParser) throws -> Void) throws {
        try nested { p in
            p.i += 1
            p.skipWhitespace()
            if p.i < p.bytes.count, p.bytes[p.i] == close { p.i += 1; return }
            while true {
                p.skipWhitespace()
                try member(&p)
                p.skipWhitespace()
                guard p.i < p.bytes.count else { throw p.unexpected() }
                if p.bytes[p.i] == close { p.i += 1; return }
                guard p.bytes[p.i] == UInt8(ascii: ",") else {
                    throw p.error("expected ',' or '\(Character(Unicode.Scalar(close)))'")
                }
                p.i += 1
            }
        }
    }

    private mutating func number() throws -> Double {
        let begin = i
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.i
            while p.i < p.bytes.count, p.bytes[p.i] >= 0x30, p.bytes[p.i] <= 0x39 { p.i += 1 }
            return p.i - s
        }
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count else { throw unexpected() }
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else if digits(&self) == 0 {
            throw unexpected()
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(&self) > 0 else { throw unexpected() }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw unexpected() }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[begin..<i]), as: UTF8.self)
        guard let v = Double(text) else { throw error("invalid number \(text)") }
        return v
    }

    private mutating func hex4() throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard i < bytes.count else { throw unexpected() }
            let b = bytes[i]
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x41...0x46: d = b - 0x41 + 10
            case 0x61...0x66: d = b - 0x61 + 10
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    /// Skips eight bytes at a time while none is a quote, a backslash or a control character.
    private mutating func skipPlainBytes() {
        guard let base = bytes.baseAddress else { return }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ v: UInt64) -> Bool { (v &- ones) & ~v & highs != 0 }
        while i + 8 <= bytes.count {
            let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            if hasZeroByte(w ^ (ones &* 0x22)) || hasZeroByte(w ^ (ones &* 0x5C)) || (w &- ones &* 0x20) & ~w & highs != 0 { return }
            i += 8
        }
    }

    private mutating func string() throws -> String {
        i += 1 // opening quote
        var segmentStart = i
        var result = ""
        func flush(_ p: JSONParser) {
            result += String(decoding: UnsafeBufferPointer(rebasing: p.bytes[segmentStart..<p.i]), as: UTF8.self)
        }
        while true {
            guard i < bytes.count else { throw error("unexpected end of input in a string") }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                flush(self)
                i += 1
                return result
            }
            if b < 0x20 { throw error("invalid control character in a string") }
            if b != UInt8(ascii: "\\") { i += 1; skipPlainBytes(); continue }
            flush(self)
            i += 1
            guard i < bytes.count else { throw error("unexpected end of input in a string") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): result += "\""
            case UInt8(ascii: "\\"): result += "\\"
            case UInt8(ascii: "/"): result += "/"
            case UInt8(ascii: "b"): result += "\u{08}"
            case UInt8(ascii: "f"): result += "\u{0C}"
            case UInt8(ascii: "n"): result += "\n"
            case UInt8(ascii: "r"): result += "\r"
            case UInt8(ascii: "t"): result += "\t"
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800...0xDBFF).contains(code), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                   bytes[i + 1] == UInt8(ascii: "u") {
                    let save = i
                    i += 2
                    let low = try hex4()
                    if (0xDC00...0xDFFF).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        i = save // not a pair: the high half stands alone
                    }
                }
                result.unicodeScalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default:
                i -= 1
                throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
            segmentStart = i
        }
    }
}
