import ChatTemplate
import Foundation
import XCTest

/// The chat commands as a user runs them: `data chat-template` prints exactly what a template
/// renders (a golden rendering of transformers), or the template's own error; `data inspect`
/// of a conversational file shows each rendered example with its masked prompt.
final class ChatDataCLITests: XCTestCase {
    var dir: URL!
    static let chat = Paths.root.appendingPathComponent("Tests/Fixtures/chat")

    override func setUpWithError() throws { dir = try Paths.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testChatTemplatePrintsTransformersRenderingByteForByte() throws {
        let messages = try Paths.write(#"[{"role": "system", "content": "You are a concise assistant. Answer in one sentence."}, {"role": "user", "content": "Why is the sky blue?"}]"#,
                                       to: "m.json", in: dir)
        let r = try Run.dpohost(["data", "chat-template", "--template", Self.chat.appendingPathComponent("templates/qwen3-0.6b.jinja").path,
                                 "--messages", messages.path, "--add-generation-prompt", "--eos-token", "<|im_end|>"], home: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let golden = try TemplateValue.parseJSON(String(contentsOf: Self.chat.appendingPathComponent("renderings/qwen3-0.6b.json"), encoding: .utf8))
        guard case let .dict(g) = golden, case let .list(cases)? = g["cases"],
              case let .dict(c)? = cases.first(where: { if case let .dict(d) = $0 { return d["id"]?.text == "system_user__gen" }; return false })
        else { return XCTFail("no golden case") }
        XCTAssertEqual(r.stdout, c["output"]?.text)
    }

    func testATemplateThatRaisesIsOneErrorLineWithItsMessage() throws {
        let messages = try Paths.write(#"[{"role": "system", "content": "x"}, {"role": "user", "content": "Hi"}]"#, to: "m.json", in: dir)
        let r = try Run.dpohost(["data", "chat-template", "--template", Self.chat.appendingPathComponent("templates/gemma-2-2b-it.jinja").path,
                                 "--messages", messages.path], home: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }, ["error: System role not supported"])
        XCTAssertEqual(r.stdout, "")
    }

    func testInspectOfAConversationalFileShowsTheRenderedPromptMasked() throws {
        let r = try Run.dpohost(["data", "inspect", "jsonl", "--option", "path=\(Self.chat.appendingPathComponent("datasets/conversational.jsonl").path)",
                                 "--model", Self.chat.appendingPathComponent("tokenizers/pythia-tiny-zephyr").path, "--tokenization", "trl",
                                 "--examples", "1"], home: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("conversational rows rendered with the chat template of"), r.stdout)
        XCTAssertTrue(r.stdout.contains("chosen: [prompt]<|user|>\nWhat color is the sky?<|endoftext|>\n<|assistant|>\n[/prompt]It is blue.<|endoftext|>\n"),
                      r.stdout)
    }
}
