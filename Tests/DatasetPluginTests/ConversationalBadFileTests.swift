import Foundation
import PluginHost
import XCTest

/// Each malformed conversational file of Fixtures/chat/datasets/bad is one error naming the
/// file, the line and what is wrong (where TRL crashes elsewhere or trains on something else);
/// and the layouts a file may not mix are refused the same way.
final class ConversationalBadFileTests: XCTestCase {
    static let bad = Paths.root.appendingPathComponent("Tests/Fixtures/chat/datasets/bad")

    func fails(_ name: String, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLoadFails("jsonl", ["path": Self.bad.appendingPathComponent(name).path], contains: [name + ":"] + fragments,
                           file: file, line: line)
    }

    func testAMessageWithoutARoleIsNamedByFieldAndIndex() {
        fails("missing_role.jsonl", ["missing_role.jsonl:3: message 0 of `prompt` has no `role`"])
    }

    func testContentThatIsNotAStringIsNamed() {
        fails("content_not_string.jsonl", ["content_not_string.jsonl:3: `content` of message 0 of `chosen` must be a string (got a number)"])
    }

    func testConversationsWithoutASharedBeginningHaveNoPrompt() {
        fails("implicit_no_common_prefix.jsonl",
              ["implicit_no_common_prefix.jsonl:2: `chosen` and `rejected` share no leading message, so no prompt can be extracted"])
    }

    func testAnEmptyConversationIsRefused() {
        fails("empty_conversation.jsonl", ["empty_conversation.jsonl:3: `chosen` is an empty conversation"])
    }

    func testAMissingRejectedIsNamed() {
        fails("missing_rejected.jsonl", ["missing_rejected.jsonl:3: missing field 'rejected'"])
    }

    func testACutOffRecordIsAJSONError() {
        fails("invalid_json.jsonl", ["invalid_json.jsonl:2: JSON syntax error", "unexpected end of input"])
    }

    func write(_ rows: [String]) throws -> [String: String] {
        let dir = try Paths.tempDir()
        return ["path": try Paths.write(rows.joined(separator: "\n") + "\n", to: "rows.jsonl", in: dir).path]
    }

    static let user = #"{"role": "user", "content": "Hi?"}"#
    static let yes = #"[{"role": "assistant", "content": "Yes."}]"#
    static let no = #"[{"role": "assistant", "content": "No."}]"#

    func testAFileMixingConversationsAndPlainTextIsRefusedAtTheFirstOddRow() throws {
        let options = try write(["{\"prompt\": [\(Self.user)], \"chosen\": \(Self.yes), \"rejected\": \(Self.no)}",
                                 #"{"prompt": "Hi?", "chosen": " Yes.", "rejected": " No."}"#])
        XCTAssertLoadFails("jsonl", options, contains: ["rows.jsonl:2: this row is plain text but the rows before it are not"])
    }

    func testAnUnknownRoleIsNamed() throws {
        let options = try write([#"{"prompt": [{"role": "narrator", "content": "Once"}], "chosen": [], "rejected": []}"#])
        XCTAssertLoadFails("jsonl", options, contains: ["rows.jsonl:1: message 0 of `prompt` has role 'narrator', not one of system, user, assistant, tool"])
    }

    func testAPromptMustEndWithTheUsersTurn() throws {
        let options = try write(["{\"prompt\": [\(Self.user), {\"role\": \"assistant\", \"content\": \"Hm\"}], \"chosen\": \(Self.yes), \"rejected\": \(Self.no)}"])
        XCTAssertLoadFails("jsonl", options, contains: ["rows.jsonl:1: `prompt` ends with the assistant's turn"])
    }

    func testIdenticalConversationsAreRefused() throws {
        let whole = "[\(Self.user), {\"role\": \"assistant\", \"content\": \"Yes.\"}]"
        let options = try write(["{\"chosen\": \(whole), \"rejected\": \(whole)}"])
        XCTAssertLoadFails("jsonl", options, contains: ["rows.jsonl:1: `chosen` and `rejected` are the same conversation"])
    }
}
