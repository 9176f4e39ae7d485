import DataPipeline
import Foundation
import PluginHost
import TensorCore
import Tokenizers
import Training
import XCTest

/// Conversational and standard files through the jsonl plugin, the chat template and
/// tokenization=trl give the token ids TRL 1.16's DPOTrainer gave for every row, tokenizer and
/// truncation (Tests/Fixtures/chat/trl, made by the fixtures' generate_chat.py): prompt ids,
/// response ids, and the rows kept and cut at a short max_length both ways. Where TRL's split is
/// not sound (a string prompt cut inside a word) dpohost cuts at the word boundary instead.
final class ConversationalTRLParityTests: XCTestCase {
    static let chat = Paths.root.appendingPathComponent("Tests/Fixtures/chat")

    struct Golden: Decodable {
        let tokenizer: String
        let dataset: String
        let rows: [Row]
        let truncation: [Truncation]
    }
    struct Row: Decodable {
        let index: Int
        let prompt_ids, chosen_ids, rejected_ids: [Int32]
        let after_extract_prompt: Extracted?
    }
    struct Extracted: Decodable {
        let chosen: ExtractedText?
        enum ExtractedText: Decodable {
            case text(String), other
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                self = (try? c.decode(String.self)).map(ExtractedText.text) ?? .other
            }
        }
    }
    struct Truncation: Decodable {
        let max_length: Int
        let truncation_mode: String
        let dropped_indices: [Int]
        let rows: [CutRow]
    }
    struct CutRow: Decodable {
        let index: Int
        let chosen, rejected: Sequence
    }
    struct Sequence: Decodable { let input_ids, completion_mask: [Int32] }

    /// The file's pairs in row order, rendered when conversational, with the golden's tokenizer.
    func pairs(_ g: Golden) throws -> (tokenizer: any Tokenizer, items: [(prompt: String, chosen: String, rejected: String, text: RowText)]) {
        let tokenizerDir = Self.chat.appendingPathComponent(g.tokenizer)
        let tokenizer = try TokenizerLoader.load(directory: tokenizerDir)
        let spec = DatasetSpec(name: "jsonl", options: ["path": Self.chat.appendingPathComponent(g.dataset).path])
        var prompts = try DatasetSource(registry: try BuiltinPlugins.registry()).flatPrompts([spec], split: "train")
        prompts = try ConversationSource(templateFile: nil, tokenizer: tokenizer, tokenizerDirectory: tokenizerDir.path)
            .render(prompts, log: { _ in })
        let items = prompts.flatMap { p in
            p.record.pairs.map { (p.prompt, p.record.responses[$0.preferred], p.record.responses[$0.dispreferred], p.text) }
        }
        return (tokenizer, items)
    }

    func check(_ goldenFile: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.chat.appendingPathComponent("trl/\(goldenFile)")))
        let (tokenizer, items) = try pairs(g)
        XCTAssertEqual(items.count, g.rows.count, "\(goldenFile): rows", file: file, line: line)
        let full = ElementTokenizer(encoder: tokenizer, limits: TruncationLimits(maxLength: 1 << 20, convention: .trl))
        var compared = 0
        for row in g.rows {
            let it = items[row.index]
            // TRL split a string prompt inside a word (" R" | "ed"): dpohost cuts at the space.
            if case let .text(c)? = row.after_extract_prompt?.chosen, let first = c.first, !first.isWhitespace {
                XCTAssertTrue(it.chosen.first?.isWhitespace == true, "\(goldenFile) row \(row.index): \(it.chosen.debugDescription)", file: file, line: line)
                continue
            }
            let e = try full.element(prompt: it.prompt, chosen: it.chosen, rejected: it.rejected, mode: .keepStart, text: it.text)
            XCTAssertEqual(e.promptIds, row.prompt_ids, "\(goldenFile) row \(row.index) prompt", file: file, line: line)
            XCTAssertEqual(e.chosenIds, row.prompt_ids + row.chosen_ids, "\(goldenFile) row \(row.index) chosen", file: file, line: line)
            XCTAssertEqual(e.rejectedIds, row.prompt_ids + row.rejected_ids, "\(goldenFile) row \(row.index) rejected", file: file, line: line)
            compared += 1
        }
        XCTAssertGreaterThan(compared, 0, file: file, line: line)
        for t in g.truncation {
            let mode: TruncationMode = t.truncation_mode == "keep_end" ? .keepEnd : .keepStart
            let cut = ElementTokenizer(encoder: tokenizer, limits: TruncationLimits(maxLength: t.max_length, convention: .trl))
            for row in t.rows {
                let it = items[row.index]
                if case let .text(c)? = g.rows[row.index].after_extract_prompt?.chosen, let first = c.first, !first.isWhitespace { continue }
                XCTAssertTrue(cut.trlPairFits(prompt: it.prompt, chosen: it.chosen, rejected: it.rejected, mode: mode, text: it.text),
                              "\(goldenFile) \(t.truncation_mode) row \(row.index) kept", file: file, line: line)
                let e = try cut.element(prompt: it.prompt, chosen: it.chosen, rejected: it.rejected, mode: mode, text: it.text)
                let what = "\(goldenFile) \(t.truncation_mode) \(t.max_length) row \(row.index)"
                XCTAssertEqual(e.chosenIds, row.chosen.input_ids, what, file: file, line: line)
                XCTAssertEqual(e.rejectedIds, row.rejected.input_ids, what, file: file, line: line)
                XCTAssertEqual(e.chosenLabels.map { $0 == -100 ? 0 : 1 }, row.chosen.completion_mask, what, file: file, line: line)
                XCTAssertEqual(e.rejectedLabels?.map { $0 == -100 ? 0 : 1 }, row.rejected.completion_mask, what, file: file, line: line)
            }
            for index in t.dropped_indices {
                let it = items[index]
                XCTAssertFalse(cut.trlPairFits(prompt: it.prompt, chosen: it.chosen, rejected: it.rejected, mode: mode, text: it.text),
                               "\(goldenFile) \(t.truncation_mode) row \(index) dropped", file: file, line: line)
            }
        }
    }

    func testLlama3TemplateExplicitPrompts() throws { try check("llama-tiny-llama3/conversational.json") }
    func testLlama3TemplateImplicitPrompts() throws { try check("llama-tiny-llama3/implicit_prompt.json") }
    func testLlama3TemplateUltraFeedbackRows() throws { try check("llama-tiny-llama3/ultrafeedback_like.maybe_extract_prompt.json") }
    func testDeepSeekR1TemplateExplicitPrompts() throws { try check("llama-tiny-deepseek-r1/conversational.json") }
    func testDeepSeekR1TemplateImplicitPrompts() throws { try check("llama-tiny-deepseek-r1/implicit_prompt.json") }
    func testDeepSeekR1TemplateUltraFeedbackRows() throws { try check("llama-tiny-deepseek-r1/ultrafeedback_like.maybe_extract_prompt.json") }
    func testQwen3TemplateExplicitPrompts() throws { try check("pythia-tiny-qwen3/conversational.json") }
    func testQwen3TemplateImplicitPrompts() throws { try check("pythia-tiny-qwen3/implicit_prompt.json") }
    func testQwen3TemplateUltraFeedbackRows() throws { try check("pythia-tiny-qwen3/ultrafeedback_like.maybe_extract_prompt.json") }
    func testZephyrTemplateExplicitPrompts() throws { try check("pythia-tiny-zephyr/conversational.json") }
    func testZephyrTemplateImplicitPrompts() throws { try check("pythia-tiny-zephyr/implicit_prompt.json") }
    func testZephyrTemplateUltraFeedbackRows() throws { try check("pythia-tiny-zephyr/ultrafeedback_like.maybe_extract_prompt.json") }
    func testLlamaStandardRowsWithItsBOS() throws { try check("llama-tiny/standard.json") }
    func testLlamaImplicitStringPrompts() throws { try check("llama-tiny/implicit_prompt_standard.json") }
    func testPythiaStandardRows() throws { try check("pythia-tiny/standard.json") }
    func testPythiaImplicitStringPrompts() throws { try check("pythia-tiny/implicit_prompt_standard.json") }

    func testAJSONArrayFileAndAGzippedFileReadAsTheirJSONLinesTwin() throws {
        let source = Self.chat.appendingPathComponent("datasets/conversational.jsonl")
        let lines = try String(contentsOf: source, encoding: .utf8).split(separator: "\n")
        let dir = try Paths.tempDir()
        let array = try Paths.write("[\n" + lines.joined(separator: ",\n") + "\n]\n", to: "rows.json", in: dir)
        let gz = dir.appendingPathComponent("rows.jsonl.gz")
        _ = try Run.program("/bin/sh", ["-c", "gzip -c '\(source.path)' > '\(gz.path)'"])
        let expected = try BuiltinPlugins.records("jsonl", ["path": source.path])
        XCTAssertEqual(expected.count, 12)
        XCTAssertTrue(expected.allSatisfy { $0.text == .messages })
        XCTAssertEqual(try BuiltinPlugins.records("jsonl", ["path": array.path]), expected)
        XCTAssertEqual(try BuiltinPlugins.records("jsonl", ["path": gz.path]), expected)
    }
}
