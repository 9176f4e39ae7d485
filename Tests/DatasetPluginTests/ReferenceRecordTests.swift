import DataPipeline
import PluginHost
import XCTest

/// Each plugin on the fixture samples gives exactly what the DPO reference's loaders build
/// (`expected_parsed.json`).
final class ReferenceRecordTests: XCTestCase {
    let expected = try! ExpectedParsed.load()

    func testHHTrainMatchesTheReference() throws {
        XCTAssertRecords(try BuiltinPlugins.records("hh", ["data_dir": Paths.data.appendingPathComponent("hh").path]),
                         expected.hh_train)
    }

    func testHHTestMatchesTheReference() throws {
        XCTAssertRecords(try BuiltinPlugins.records("hh", ["data_dir": Paths.data.appendingPathComponent("hh").path], split: "test"),
                         expected.hh_test)
    }

    func testSHPTrainMatchesTheReference() throws {
        XCTAssertRecords(try BuiltinPlugins.records("shp", ["data_dir": Paths.data.appendingPathComponent("shp").path]),
                         expected.shp_train)
    }

    func testSHPTestMatchesTheReference() throws {
        XCTAssertRecords(try BuiltinPlugins.records("shp", ["data_dir": Paths.data.appendingPathComponent("shp").path], split: "test"),
                         expected.shp_test)
    }

    func testSEInFileOrderWithoutTestSplitMatchesTheReference() throws {
        let options = ["data_dir": Paths.data.appendingPathComponent("stack_exchange").path, "shuffle": "false", "test_fraction": "0"]
        XCTAssertRecords(try BuiltinPlugins.records("se", options), expected.stack_exchange_train)
    }

    func testPairAndRecordCountsMatchTheFixtureCounts() throws {
        let shp = ["data_dir": Paths.data.appendingPathComponent("shp").path]
        let hh = ["data_dir": Paths.data.appendingPathComponent("hh").path]
        let se = ["data_dir": Paths.data.appendingPathComponent("stack_exchange").path, "shuffle": "false", "test_fraction": "0"]
        func pairs(_ r: [PromptRecord]) -> Int { r.reduce(0) { $0 + $1.pairs.count } }
        // HH: one pair per row.
        XCTAssertEqual(pairs(try BuiltinPlugins.records("hh", hh)), expected.counts["hh_train_records"])
        XCTAssertEqual(pairs(try BuiltinPlugins.records("hh", hh, split: "test")), expected.counts["hh_test_records"])
        XCTAssertEqual(pairs(try BuiltinPlugins.records("shp", shp)), expected.counts["shp_train_pairs_kept"])
        XCTAssertEqual(pairs(try BuiltinPlugins.records("shp", shp, split: "test")), expected.counts["shp_test_pairs_kept"])
        XCTAssertEqual(try BuiltinPlugins.records("se", se).count, expected.counts["se_records"])
        let flat = try BuiltinPlugins.records("jsonl", ["path": Paths.data.appendingPathComponent("preference.jsonl").path])
        XCTAssertEqual(pairs(flat), expected.counts["flat_records"])
    }
}
