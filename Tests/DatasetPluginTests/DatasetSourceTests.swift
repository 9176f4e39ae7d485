import DataPipeline
import Foundation
import PluginHost
import TensorCore
import Tokenizers
import Training
import XCTest

/// One character = one token (ids are the scalar values; EOS 1, pad 2), so lengths read easily.
struct CharacterTokenizer: Tokenizer {
    var vocabularySize: Int { 0x110000 }
    var bosTokenId: Int32? { nil }
    var eosTokenId: Int32 { 1 }
    var padTokenId: Int32 { 2 }
    var unknownTokenId: Int32? { nil }
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] { text.unicodeScalars.map { Int32($0.value) } }
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        String(String.UnicodeScalarView(ids.compactMap { Unicode.Scalar(UInt32($0)) }))
    }
    func token(for id: Int32) -> String? { decode([id], skipSpecialTokens: false) }
}

/// Datasets from plugins into the Data pipeline: records -> PromptDataset -> flat list -> batches.
final class DatasetSourceTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Paths.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// `cc -shared -fPIC -I SDK/include examples/mydata/mydata.c -o DIR/libmydata.so`.
    func buildMydata() throws -> String {
        let out = dir.appendingPathComponent("libmydata.so").path
        let r = try Run.program("/usr/bin/env", ["cc", "-shared", "-fPIC", "-std=gnu11", "-I", Paths.root.appendingPathComponent("SDK/include").path,
                                                 Paths.root.appendingPathComponent("examples/mydata/mydata.c").path, "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    func testTheCExampleDatasetGoesThroughTheSourceIntoPreferenceBatches() throws {
        let tsv = try Paths.write("Q1\tgood\tbad\nQ2\tyes\tno\nQ1\tfine\tmeh\n", to: "d.tsv", in: dir)
        let source = DatasetSource(registry: try BuiltinPlugins.registry(explicit: [try buildMydata()]))
        let flat = try source.flatPrompts([DatasetSpec(name: "mydata", options: ["path": tsv.path])], split: "train")
        XCTAssertEqual(flat.map(\.prompt), ["Q1", "Q2"])
        XCTAssertEqual(flat[0].record.pairs.count, 2)

        let options = BatchIteratorOptions(batchSize: 3, epochs: 1, sftMode: false, limits: TruncationLimits(maxLength: 16, maxPromptLength: 8))
        var iterator = try BatchIterator(prompts: flat, tokenizer: CharacterTokenizer(), options: options)
        let batch = try XCTUnwrap(try iterator.next())
        XCTAssertEqual(batch.size, 3)
        XCTAssertTrue(batch.isPreference)
        // Every row: a masked 2-token prompt, then the response and EOS; padding with 2 / -100.
        for (row, e) in batch.elements.enumerated() {
            XCTAssertEqual(batch.chosenLabels[row, 0], -100)
            XCTAssertEqual(batch.chosenLabels[row, 1], -100)
            let chosen = e.chosenResponse.unicodeScalars.map { Int32($0.value) } + [1]
            XCTAssertEqual((0..<chosen.count).map { batch.chosenIds[row, 2 + $0] }, chosen)
            for col in (2 + chosen.count)..<batch.chosenIds.shape[1] {
                XCTAssertEqual(batch.chosenIds[row, col], 2)
                XCTAssertEqual(batch.chosenLabels[row, col], -100)
            }
        }
        XCTAssertEqual(Set(batch.elements.map(\.rejectedResponse)), ["bad", "no", "meh"])
        XCTAssertNil(try iterator.next()) // one epoch of 3 pairs is one batch
    }

    func testTheCExampleGivesSFTBatchesOfItsTargets() throws {
        let tsv = try Paths.write("Q1\tgood\tbad\nQ2\tyes\tno\n", to: "d.tsv", in: dir)
        let source = DatasetSource(registry: try BuiltinPlugins.registry(explicit: [try buildMydata()]))
        let flat = try source.flatPrompts([DatasetSpec(name: "mydata", options: ["path": tsv.path])], split: "train")
        var iterator = try BatchIterator(prompts: flat, tokenizer: CharacterTokenizer(),
                                         options: BatchIteratorOptions(batchSize: 2, epochs: 1, sftMode: true, limits: TruncationLimits()))
        let batch = try XCTUnwrap(try iterator.next())
        XCTAssertFalse(batch.isPreference)
        XCTAssertEqual(Set(batch.elements.map(\.chosenResponse)), ["good", "yes"])
    }

    func testSeveralDatasetsFlattenInTheGivenOrderWithTheirTruncationModes() throws {
        let source = DatasetSource(registry: try BuiltinPlugins.registry())
        let flat = try source.flatPrompts([
            DatasetSpec(name: "shp", options: ["data_dir": Paths.data.appendingPathComponent("shp").path]),
            DatasetSpec(name: "hh", options: ["data_dir": Paths.data.appendingPathComponent("hh").path]),
        ], split: "train")
        XCTAssertEqual(flat.count, 7 + 29)
        XCTAssertEqual(flat.prefix(7).map(\.truncationMode), Array(repeating: .keepStart, count: 7))
        XCTAssertEqual(flat.suffix(29).map(\.truncationMode), Array(repeating: .keepEnd, count: 29))
        XCTAssertTrue(flat[0].prompt.contains("Celsius"))
    }

    func testAPromptEmittedTwiceIsMergedAsTheReferenceDictionaryDoes() {
        let records = [
            PromptRecord(prompt: "p", responses: ["a", "b"], pairs: [.init(0, 1)], sftTarget: "a"),
            PromptRecord(prompt: "q", responses: ["c", "d"], pairs: [.init(1, 0)], sftTarget: "d"),
            PromptRecord(prompt: "p", responses: ["e", "f"], pairs: [.init(1, 0)], sftTarget: "f"),
        ]
        let ds = DatasetSource.promptDataset(name: "x", truncationMode: .keepStart, records: records)
        XCTAssertEqual(ds.prompts, ["p", "q"])
        XCTAssertEqual(ds.record("p"), PromptRecord(prompt: "p", responses: ["a", "b", "e", "f"], pairs: [.init(0, 1), .init(3, 2)], sftTarget: "f"))
    }

    func testASplitEmptyAfterFilteringIsAnErrorNamingDatasetAndSplit() throws {
        let rows: [[String: Any]] = [["history": "h", "human_ref_A": "a", "human_ref_B": "b", "score_A": 3, "score_B": 2, "labels": 1]]
        try Paths.write(try Paths.jsonl(rows), to: "test.json", in: dir)
        let source = DatasetSource(registry: try BuiltinPlugins.registry())
        XCTAssertThrowsError(try source.load(DatasetSpec(name: "shp", options: ["data_dir": dir.path]), split: "test")) { error in
            XCTAssertTrue("\(error)".contains("dataset 'shp' has no records in split 'test'"), "\(error)")
        }
    }

    func testPluginFailuresReachTheCallerWithTheFileAndLine() throws {
        let source = DatasetSource(registry: try BuiltinPlugins.registry())
        let spec = DatasetSpec(name: "jsonl", options: ["path": Paths.bad.appendingPathComponent("missing_field.jsonl").path])
        XCTAssertThrowsError(try source.load(spec, split: "train")) { error in
            XCTAssertTrue("\(error)".contains("missing_field.jsonl:2: missing field 'rejected'"), "\(error)")
        }
    }
}
