import XCTest
import HostUtility

/// Each writer's escaping, byte for byte: the four differ only in the quote, `\b` `\f` by name,
/// DEL and the hex form, and the files they write depend on exactly these bytes.
final class QuotedLiteralTests: XCTestCase {
    private let sample = "a\"b\\c\n\r\t\u{8}\u{C}\u{1}\u{7F}é🙂'"

    func testJSONNamesBackspaceAndFormFeedAndLeavesDelete() {
        XCTAssertEqual(QuotedLiteral.json.quoted(sample), #""a\"b\\c\n\r\t\b\f\u0001\#u{7F}é🙂'""#)
    }

    func testJSONWithoutNamedBackspaceWritesHex() {
        let style = QuotedLiteral(quote: "\"", namesBackspaceAndFormFeed: false, escapesDelete: false, hexEscape: .unicode)
        XCTAssertEqual(style.quoted(sample), #""a\"b\\c\n\r\t\u0008\u000c\u0001\#u{7F}é🙂'""#)
    }

    func testUppercaseByteEscapesDelete() {
        let style = QuotedLiteral(quote: "\"", namesBackspaceAndFormFeed: false, escapesDelete: true, hexEscape: .uppercaseByte)
        XCTAssertEqual(style.quoted(sample), #""a\"b\\c\n\r\t\x08\x0C\x01\x7Fé🙂'""#)
    }

    func testSingleQuoteEscapesOnlyItsOwnQuote() {
        let style = QuotedLiteral(quote: "'", namesBackspaceAndFormFeed: false, escapesDelete: true, hexEscape: .lowercaseByte)
        XCTAssertEqual(style.quoted(sample), #"'a"b\\c\n\r\t\x08\x0c\x01\x7fé🙂\''"#)
    }

    func testEmptyString() {
        XCTAssertEqual(QuotedLiteral.json.quoted(""), "\"\"")
    }
}
