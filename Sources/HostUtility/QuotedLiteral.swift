/// How a text format the host writes quotes a string: JSON (chat templates' `tojson`, safetensors
/// headers), YAML's double-quoted scalars and Python's `repr`. All escape their quote character and
/// the backslash, write newline, carriage return and tab as `\n` `\r` `\t`, and the other control
/// characters as hex escapes; they differ in the details below, and each writer keeps its own
/// (the tests compare their exact bytes).
public struct QuotedLiteral: Sendable {
    /// How a control character without a short escape is written.
    public enum HexEscape: Sendable {
        /// `\u000b`, JSON's.
        case unicode
        /// `\x0b`, Python's.
        case lowercaseByte
        /// `\x0B`, as the YAML writer has always written it.
        case uppercaseByte
    }

    public var quote: Unicode.Scalar
    /// Backspace and form feed as `\b` and `\f` rather than hex (JSON allows either).
    public var namesBackspaceAndFormFeed: Bool
    /// DEL (0x7F) escaped as well as the characters below 0x20.
    public var escapesDelete: Bool
    public var hexEscape: HexEscape

    public init(quote: Unicode.Scalar, namesBackspaceAndFormFeed: Bool, escapesDelete: Bool, hexEscape: HexEscape) {
        self.quote = quote
        self.namesBackspaceAndFormFeed = namesBackspaceAndFormFeed
        self.escapesDelete = escapesDelete
        self.hexEscape = hexEscape
    }

    /// Python's `json.dumps(..., ensure_ascii=False)`: `\b` and `\f` by name, DEL as is.
    public static let json = QuotedLiteral(quote: "\"", namesBackspaceAndFormFeed: true, escapesDelete: false, hexEscape: .unicode)

    /// `s` between quotes, escaped; everything else (non-ASCII included) is written as is.
    public func quoted(_ s: String) -> String {
        var out = ""
        out.unicodeScalars.append(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case quote, "\\": out += "\\" + String(scalar)
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}" where namesBackspaceAndFormFeed: out += "\\b"
            case "\u{C}" where namesBackspaceAndFormFeed: out += "\\f"
            case _ where scalar.value < 0x20 || (escapesDelete && scalar.value == 0x7F): out += hex(scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    private func hex(_ value: UInt32) -> String {
        let (prefix, width, uppercase) = switch hexEscape {
        case .unicode: ("\\u", 4, false)
        case .lowercaseByte: ("\\x", 2, false)
        case .uppercaseByte: ("\\x", 2, true)
        }
        let digits = String(value, radix: 16, uppercase: uppercase)
        return prefix + String(repeating: "0", count: width - digits.count) + digits
    }
}
