import DataPipeline
import PluginHost
import XCTest

/// HH's prompt split and SHP's filter, pair order and SFT target, on rows built to catch the
/// obvious mistakes (docs/spec/data.md §2-§3).
final class HHAndSHPRuleTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Paths.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func hh(_ rows: [(String, String)]) throws -> [PromptRecord] {
        try Paths.write(try Paths.jsonl(rows.map { ["chosen": $0.0, "rejected": $0.1] }), to: "train.jsonl", in: dir)
        return try BuiltinPlugins.records("hh", ["data_dir": dir.path])
    }

    func shp(_ rows: [(history: String, a: String, b: String, sa: Int, sb: Int, label: Int)],
             options: [String: String] = [:]) throws -> [PromptRecord] {
        let json = rows.map { r -> [String: Any] in
            ["history": r.history, "human_ref_A": r.a, "human_ref_B": r.b, "score_A": r.sa, "score_B": r.sb, "labels": r.label,
             "post_id": "p", "domain": "askx_train", "score_ratio": 0.0]
        }
        try Paths.write(try Paths.jsonl(json), to: "train.jsonl", in: dir)
        return try BuiltinPlugins.records("shp", options.merging(["data_dir": dir.path]) { a, _ in a })
    }

    // MARK: HH

    func testHHPromptEndsAtTheLastAssistantMarkerOfTheChosenText() throws {
        let chosen = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: bye\n\nAssistant: see you"
        let r = try hh([(chosen, "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: bye\n\nAssistant: go")])
        XCTAssertEqual(r[0].prompt, "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: bye\n\nAssistant:")
        XCTAssertEqual(r[0].responses, [" see you", " go"])
    }

    func testHHRejectedIsCutAtTheChosenPromptLengthWithoutCheckingItsPrefix() throws {
        // The rejected transcript's prompt differs (and is longer): it is still cut at the chosen
        // prompt's length, counted in characters (code points) as Python slices, not in bytes.
        let chosen = "\n\nHuman: café?\n\nAssistant: oui"
        let rejected = "\n\nHuman: cafe?!\n\nAssistant: non"
        let r = try hh([(chosen, rejected)])
        XCTAssertEqual(r[0].prompt, "\n\nHuman: café?\n\nAssistant:")
        XCTAssertEqual(r[0].responses[1], ": non")
    }

    func testHHRepeatedPromptAppendsPairsAndTheLastChosenIsTheSFTTarget() throws {
        let p = "\n\nHuman: q\n\nAssistant:"
        let r = try hh([(p + " first", p + " bad1"), ("\n\nHuman: other\n\nAssistant: x", "\n\nHuman: other\n\nAssistant: y"),
                        (p + " second", p + " bad2")])
        XCTAssertEqual(r.map(\.prompt), [p, "\n\nHuman: other\n\nAssistant:"])
        XCTAssertEqual(r[0].responses, [" first", " bad1", " second", " bad2"])
        XCTAssertEqual(r[0].pairs, [PromptRecord.Pair(0, 1), PromptRecord.Pair(2, 3)])
        XCTAssertEqual(r[0].sftTarget, " second")
    }

    func testHHPromptsDifferingOnlyInUnicodeNormalizationStaySeparate() throws {
        // Python compares code points: "café" (precomposed) and "cafe\u{301}" are two prompts,
        // although Swift's String == calls them equal.
        let r = try hh([("\n\nHuman: caf\u{E9}\n\nAssistant: a", "\n\nHuman: caf\u{E9}\n\nAssistant: b"),
                        ("\n\nHuman: cafe\u{301}\n\nAssistant: c", "\n\nHuman: cafe\u{301}\n\nAssistant: d")])
        XCTAssertEqual(r.count, 2)
        XCTAssertEqual(r.map { $0.responses.count }, [2, 2])
    }

    func testHHReadsSubsetFoldersInSortedOrderAndIgnoresOtherFiles() throws {
        let row = { (q: String) in try Paths.jsonl([["chosen": "\n\nHuman: \(q)\n\nAssistant: a", "rejected": "\n\nHuman: \(q)\n\nAssistant: b"]]) }
        try Paths.write(try row("from b"), to: "helpful-base/train.jsonl", in: dir)
        let plain = try Paths.write(try row("from a"), to: "tmp/a.jsonl", in: dir)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("harmless-base"), withIntermediateDirectories: true)
        try Run.gzip(plain, to: dir.appendingPathComponent("harmless-base/train.jsonl.gz"))
        try Paths.write(try row("red team"), to: "red-team-attempts/red_team_attempts.jsonl", in: dir)
        try Paths.write(try row("test only"), to: "helpful-base/test.jsonl", in: dir)
        let r = try BuiltinPlugins.records("hh", ["data_dir": dir.path])
        XCTAssertEqual(r.map(\.prompt), ["\n\nHuman: from a\n\nAssistant:", "\n\nHuman: from b\n\nAssistant:"])
    }

    func testHHUsesKeepEndAndTheOthersKeepStart() throws {
        let registry = try BuiltinPlugins.registry()
        let modes = try ["hh", "shp", "se", "jsonl"].map { name in
            let options = name == "jsonl" ? [:] : ["data_dir": dir.path]
            return try DatasetPlugin(try registry.resolve(kind: .dataset, name: name), options: options).truncationMode
        }
        XCTAssertEqual(modes, [.keepEnd, .keepStart, .keepStart, .keepStart])
    }

    // MARK: SHP

    func testSHPKeepsARatioOfExactlyTwoAndDropsRatiosBelowTwo() throws {
        let r = try shp([("kept", "a", "b", 20, 10, 1), ("kept", "c", "d", 19, 10, 1), ("kept", "e", "f", 5, 10, 0),
                         ("gone", "g", "h", 3, 2, 1)])
        XCTAssertEqual(r.map(\.prompt), ["\n\nHuman: kept\n\nAssistant:"])
        XCTAssertEqual(r[0].responses, [" a", " b", " e", " f"])
    }

    func testSHPLabelOnePrefersAAndLabelZeroPrefersB() throws {
        let r = try shp([("q", "a", "b", 30, 10, 1), ("q", "c", "d", 10, 30, 0)])
        XCTAssertEqual(r[0].pairs, [PromptRecord.Pair(0, 1), PromptRecord.Pair(3, 2)])
    }

    func testSHPSFTTargetIsTheHighestScoreEarliestOnTies() throws {
        let r = try shp([("q", "low", "tie1", 10, 40, 0), ("q", "tie2", "lower", 40, 5, 1)])
        XCTAssertEqual(r[0].sftTarget, " tie1")
    }

    func testSHPDuplicatedResponseIsScoredByItsFirstOccurrence() throws {
        // " x" first scores 5; its later score of 100 is ignored, so " y" (50) is the target.
        let r = try shp([("q", "x", "y", 5, 50, 0), ("q", "x", "z", 100, 10, 1)])
        XCTAssertEqual(r[0].sftTarget, " y")
    }

    func testSHPZeroScoreRowsAreSkippedNotACrash() throws {
        let r = try shp([("q", "a", "b", 0, 10, 0), ("q", "c", "d", 20, 10, 1)])
        XCTAssertEqual(r[0].responses, [" c", " d"])
    }

    func testSHPMaxPairsPerPromptCapsPairsInFileOrder() throws {
        let rows = [("q", "a", "b", 20, 10, 1), ("q", "c", "d", 20, 10, 1), ("q", "e", "f", 20, 10, 1)]
        XCTAssertEqual(try shp(rows).first?.pairs.count, 3)
        XCTAssertEqual(try shp(rows, options: ["max_pairs_per_prompt": "2"]).first?.responses, [" a", " b", " c", " d"])
    }
}
