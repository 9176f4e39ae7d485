import DataPipeline
import Foundation
import TensorCore
import Tokenizers
import XCTest

/// `tokenization=trl` gives exactly the rows TRL 1.16's DPOTrainer gives (its own
/// `_prepare_dataset` and collator, recorded in Tests/TrainerTests/TRLGolden/trl_golden.json by
/// make_trl_golden.py): the tokenizer's special tokens, EOS added when missing, the response
/// from where prompt and prompt+response stop agreeing, each row cut to max_length, and the row
/// whose prompt alone reaches max_length dropped under keep_start.
final class TRLTokenizationTests: XCTestCase {
    static let golden = DataFixtures.root.deletingLastPathComponent().appendingPathComponent("TrainerTests/TRLGolden")

    struct Row: Decodable { let prompt, chosen, rejected: String }

    struct Expected: Decodable {
        let kept_row_indices: [Int]
        let rows: [ExpectedRow]
    }

    struct ExpectedRow: Decodable {
        let row_index: Int
        let prompt_ids: [Int32]
        let collated_chosen_input_ids, collated_rejected_input_ids: [Int32]
        let collated_chosen_completion_mask, collated_rejected_completion_mask: [Int32]
    }

    struct Golden: Decodable {
        let max_length: Int
        let tokenized: [String: [String: Expected]]
    }

    func rows() throws -> [Row] {
        try String(contentsOf: Self.golden.appendingPathComponent("rows.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode(Row.self, from: Data($0.utf8)) }
    }

    func golden() throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.golden.appendingPathComponent("trl_golden.json")))
    }

    func check(model: String, mode: TruncationMode, file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try golden()
        let expected = try XCTUnwrap(g.tokenized[model]?[mode.rawValue])
        let tokenizer = try TokenizerLoader.load(directory: DataFixtures.models.appendingPathComponent(model))
        let elements = ElementTokenizer(encoder: tokenizer, limits: TruncationLimits(maxLength: g.max_length, convention: .trl))
        let rows = try rows()
        let kept = rows.indices.filter {
            elements.trlPairFits(prompt: rows[$0].prompt, chosen: rows[$0].chosen, rejected: rows[$0].rejected, mode: mode)
        }
        XCTAssertEqual(kept, expected.kept_row_indices, "\(model) \(mode)", file: file, line: line)
        for want in expected.rows {
            let r = rows[want.row_index]
            let e = try elements.element(prompt: r.prompt, chosen: r.chosen, rejected: r.rejected, mode: mode)
            let what = "\(model) \(mode.rawValue) row \(want.row_index)"
            XCTAssertEqual(e.promptIds, want.prompt_ids, what, file: file, line: line)
            XCTAssertEqual(e.chosenIds, want.collated_chosen_input_ids, what, file: file, line: line)
            XCTAssertEqual(e.rejectedIds, want.collated_rejected_input_ids, what, file: file, line: line)
            XCTAssertEqual(e.chosenLabels.map { $0 == -100 ? 0 : 1 }, want.collated_chosen_completion_mask, what, file: file, line: line)
            XCTAssertEqual(e.rejectedLabels?.map { $0 == -100 ? 0 : 1 }, want.collated_rejected_completion_mask, what, file: file, line: line)
            let counted = zip(e.chosenIds, e.chosenLabels).filter { $0.1 != -100 }
            XCTAssertTrue(counted.allSatisfy { $0.0 == $0.1 }, "labels are the row's own tokens: \(what)", file: file, line: line)
        }
    }

    func testGPT2RowsEqualTRLsKeepingTheStart() throws { try check(model: "gpt2-tiny", mode: .keepStart) }
    func testGPT2RowsEqualTRLsKeepingTheEnd() throws { try check(model: "gpt2-tiny", mode: .keepEnd) }
    func testPythiaRowsEqualTRLsKeepingTheStart() throws { try check(model: "pythia-tiny", mode: .keepStart) }
    func testPythiaRowsEqualTRLsKeepingTheEnd() throws { try check(model: "pythia-tiny", mode: .keepEnd) }
    func testLlamaRowsEqualTRLsWithItsBOSKeepingTheStart() throws { try check(model: "llama-tiny", mode: .keepStart) }
    func testLlamaRowsEqualTRLsWithItsBOSKeepingTheEnd() throws { try check(model: "llama-tiny", mode: .keepEnd) }

    func testAResponseAlreadyEndingInEOSGetsNoSecondOne() throws {
        let tokenizer = try TokenizerLoader.load(directory: DataFixtures.models.appendingPathComponent("pythia-tiny"))
        let elements = ElementTokenizer(encoder: tokenizer, limits: TruncationLimits(maxLength: 64, convention: .trl))
        let eos = try XCTUnwrap(tokenizer.token(for: tokenizer.eosTokenId))
        let plain = try elements.element(prompt: "Q:", chosen: " yes", rejected: " no", mode: .keepStart)
        let ended = try elements.element(prompt: "Q:", chosen: " yes" + eos, rejected: " no" + eos, mode: .keepStart)
        XCTAssertEqual([plain.chosenIds, plain.rejectedIds], [ended.chosenIds, ended.rejectedIds])
        XCTAssertEqual(ended.chosenIds.filter { $0 == tokenizer.eosTokenId }.count, 1)
    }
}
