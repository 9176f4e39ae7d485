import ChatTemplate
import Foundation
import XCTest

/// Every real template in Tests/Fixtures/chat/templates renders every golden conversation byte
/// for byte as transformers' `apply_chat_template(tokenize=False)` did (renderings/, made by the
/// fixtures' generate_chat.py), and raises the template's own message where it did.
final class RealTemplateRenderingTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/chat")

    func check(_ template: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let golden = try TemplateValue.parseJSON(String(contentsOf: Self.root.appendingPathComponent("renderings/\(template).json"), encoding: .utf8))
        let source = try String(contentsOf: Self.root.appendingPathComponent("templates/\(template).jinja"), encoding: .utf8)
        let chat = try ChatTemplate(source: source)
        guard case let .dict(g) = golden, case let .list(cases)? = g["cases"] else { return XCTFail("no cases", file: file, line: line) }
        XCTAssertFalse(cases.isEmpty, file: file, line: line)
        for case let .dict(c) in cases {
            let id = c["id"]?.text ?? "?"
            var options = ChatTemplate.Options()
            options.addGenerationPrompt = c["add_generation_prompt"]?.truthy ?? false
            options.continueFinalMessage = c["continue_final_message"]?.truthy ?? false
            if case let .string(bos)? = c["bos_token"] { options.bosToken = bos }
            if case let .string(eos)? = c["eos_token"] { options.eosToken = eos }
            if let tools = c["tools"], tools.truthy { options.tools = tools }
            if case let .dict(kwargs)? = c["template_kwargs"] { options.variables = kwargs.entries.map { ($0.key.text, $0.value) } }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
            formatter.timeZone = TimeZone(identifier: "UTC")
            if let now = c["now"]?.text, let date = formatter.date(from: now) { options.now = date }
            let messages = c["messages"] ?? .list([])
            if case let .dict(error)? = c["error"] {
                XCTAssertThrowsError(try chat.render(messages: messages, options), "\(template) \(id)", file: file, line: line) { e in
                    XCTAssertEqual("\(e)", error["message"]?.text, "\(template) \(id)", file: file, line: line)
                }
                continue
            }
            do {
                let rendered = try chat.render(messages: messages, options)
                XCTAssertEqual(rendered, c["output"]?.text, "\(template) \(id)", file: file, line: line)
            } catch {
                XCTFail("\(template) \(id): \(error)", file: file, line: line)
            }
        }
    }

    func testDeepSeekR1DistillQwen() throws { try check("deepseek-r1-distill-qwen-32b") }
    func testGemma2() throws { try check("gemma-2-2b-it") }
    func testLlama31WithToolsAndItsDate() throws { try check("llama-3.1-8b-instruct") }
    func testMistral7BInstruct() throws { try check("mistral-7b-instruct-v0.2") }
    func testMistralSmall32WithStrftimeNow() throws { try check("mistral-small-3.2-24b-instruct-2506") }
    func testPhi35Mini() throws { try check("phi-3.5-mini-instruct") }
    func testQwen3WithThinkingAndTools() throws { try check("qwen3-0.6b") }
    func testZephyr() throws { try check("zephyr-7b-beta") }

    func testEveryTemplateOfTheFixturesHasATest() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("templates").path)
            .filter { $0.hasSuffix(".jinja") }
        XCTAssertEqual(files.count, 8)
    }
}
