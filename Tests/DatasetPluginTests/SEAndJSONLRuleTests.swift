import DataPipeline
import DatasetSupport
import PluginHost
import XCTest

/// StackExchange's pairs, duplicates, HTML stripping and split; the generic jsonl layouts
/// (docs/spec/data.md §4-§5).
final class SEAndJSONLRuleTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Paths.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Rows of `(question, [(answer, pm_score)])` as a converted SE shard.
    func writeSE(_ rows: [(String, [(String, Int)])]) throws {
        let json = rows.enumerated().map { k, row -> [String: Any] in
            ["qid": k, "question": row.0, "date": "2020/01/01", "metadata": [String](),
             "answers": row.1.map { ["text": $0.0, "pm_score": $0.1, "answer_id": 1, "selected": false] }]
        }
        try Paths.write(try Paths.jsonl(json), to: "data/site/train-00000.jsonl", in: dir)
    }

    func se(_ options: [String: String] = ["shuffle": "false", "test_fraction": "0"], split: String = "train") throws -> [PromptRecord] {
        try BuiltinPlugins.records("se", options.merging(["data_dir": dir.path]) { a, _ in a }, split: split)
    }

    // MARK: StackExchange

    func testSETiesMakeTheLaterAnswerPreferred() throws {
        try writeSE([("<p>q</p>", [("<p>a</p>", 3), ("<p>b</p>", 3), ("<p>c</p>", 1)])])
        let r = try se()
        XCTAssertEqual(r[0].pairs, [PromptRecord.Pair(1, 0), PromptRecord.Pair(0, 2), PromptRecord.Pair(1, 2)])
        XCTAssertEqual(r[0].sftTarget, " a") // equal top scores: the earliest
    }

    func testSERepeatedQuestionKeepsItsFirstPositionAndItsLastContent() throws {
        try writeSE([("<p>q1</p>", [("<p>old</p>", 1)]), ("<p>q2</p>", [("<p>x</p>", 1)]), ("<p>q1</p>", [("<p>new</p>", 2)])])
        let r = try se()
        XCTAssertEqual(r.map(\.prompt), ["\n\nHuman: q1\n\nAssistant:", "\n\nHuman: q2\n\nAssistant:"])
        XCTAssertEqual(r[0].responses, [" new"])
    }

    func testSEStripsHTMLInQuestionsAndAnswers() throws {
        try writeSE([("<p>Why <b>this</b>?</p><ul><li>gone</li></ul>", [("<pre><code>x &lt; 1\n</code></pre>", 1)])])
        let r = try se()
        XCTAssertEqual(r[0].prompt, "\n\nHuman: Why ?\n\nAssistant:")
        XCTAssertEqual(r[0].responses, [" <code>x < 1\n</code>"])
    }

    func testSEShuffleIsNumpyDefaultRngPermutation() {
        // Golden values from numpy 2.4: default_rng(seed).permutation(n).
        XCTAssertEqual(NumpyPermutation.permutation(count: 24, seed: 42),
                       [16, 15, 18, 19, 9, 7, 17, 23, 6, 10, 3, 0, 20, 12, 5, 11, 14, 22, 2, 4, 21, 1, 13, 8])
        XCTAssertEqual(Array(NumpyPermutation.permutation(count: 1000, seed: 0).prefix(10)),
                       [459, 206, 222, 162, 711, 814, 350, 890, 518, 264])
        XCTAssertEqual(Array(NumpyPermutation.permutation(count: 70000, seed: 4_294_967_295).prefix(6)),
                       [2678, 68850, 38991, 56355, 32457, 23971])
    }

    func testSEPermutationOfAMillionRowsMatchesNumpy() {
        // Long enough for every mask width up to 2^20; the published 10,741,532 rows were checked
        // the same way (prefix 6514774, 4836190, 7809879, 4643624) but take ~12 s in a debug build.
        XCTAssertEqual(Array(NumpyPermutation.permutation(count: 1_000_003, seed: 42).prefix(8)),
                       [217938, 748977, 861147, 619356, 186185, 528334, 131600, 836262])
    }

    func testSETestSplitIsTheFirstPercentOfTheShuffledRows() throws {
        try writeSE((0..<200).map { ("<p>q\($0)</p>", [("<p>a</p>", 1), ("<p>b</p>", 2)]) })
        let test = try se([:], split: "test"), train = try se([:], split: "train")
        // numpy: default_rng(42).permutation(200) starts 152, 26, 115, 46, 38; int(200 * 0.01) = 2.
        XCTAssertEqual(test.map(\.prompt), ["\n\nHuman: q152\n\nAssistant:", "\n\nHuman: q26\n\nAssistant:"])
        XCTAssertEqual(train.count, 198)
        XCTAssertEqual(train.prefix(3).map(\.prompt), [115, 46, 38].map { "\n\nHuman: q\($0)\n\nAssistant:" })
    }

    func testSEPermutationFileSetsTheOrder() throws {
        try writeSE((0..<4).map { ("<p>q\($0)</p>", [("<p>a</p>", 1)]) })
        let order = try Paths.write("3\n1\n0\n2\n", to: "order.txt", in: dir)
        let r = try se(["permutation_file": order.path, "test_fraction": "0.5"], split: "test")
        XCTAssertEqual(r.map(\.prompt), ["\n\nHuman: q3\n\nAssistant:", "\n\nHuman: q1\n\nAssistant:"])
    }

    func testSEPermutationFileWithARepeatedIndexNamesItsLine() throws {
        try writeSE((0..<3).map { ("<p>q\($0)</p>", [("<p>a</p>", 1)]) })
        let order = try Paths.write("2\n0\n2\n", to: "order.txt", in: dir)
        XCTAssertLoadFails("se", ["data_dir": dir.path, "permutation_file": order.path], contains: ["order.txt:3", "appears twice"])
    }

    // MARK: HTML stripping (the reference's strip_html_tags)

    func testInlineMarkupInsideAParagraphIsLostWithItsText() {
        XCTAssertEqual(HTMLStripper.strip("<p>Use <code>sudo</code> only if <em>needed</em>.</p>"), "Use  only if .")
    }

    func testOnlyParagraphsAndCodeBlocksSurviveJoinedByBlankLines() {
        let html = "top text<p>one</p>\n<ul><li>item</li></ul><h2>title</h2><blockquote><p>quoted</p></blockquote>"
            + "<pre><code>a</code> and <code>b</code></pre><code>c &amp; d</code><p>two</p>"
        XCTAssertEqual(HTMLStripper.strip(html), "one\n\n<code>a</code>\n\n<code>b</code>\n\n<code>c & d</code>\n\ntwo")
    }

    func testEntitiesAreDecodedNamedAndNumeric() {
        XCTAssertEqual(HTMLStripper.strip("<p>&lt;a&gt; &amp; &quot;b&quot; &#39;c&#x27; caf&eacute; &#150; &nbsp;&unknown; x</p>"),
                       "<a> & \"b\" 'c' café \u{2013} \u{A0}&unknown x")
    }

    func testUnclosedParagraphNestsWhatFollowsAsHTMLParserDoes() {
        // html.parser never closes <p> implicitly: the second paragraph and the <pre> are inside it.
        XCTAssertEqual(HTMLStripper.strip("<p>a<p>b</p><pre><code>x</code></pre>"), "a")
        XCTAssertEqual(HTMLStripper.strip("<p>a<br>b</p></div><p>c</p>"), "ab\n\nc")
    }

    // MARK: jsonl

    func testJSONLFlatRowsWithARepeatedPromptMergeIntoOneRecord() throws {
        let f = try Paths.write(try Paths.jsonl([["prompt": "p", "chosen": "a", "rejected": "b"], ["prompt": "q", "chosen": "c", "rejected": "d"],
                                                 ["prompt": "p", "chosen": "e", "rejected": "f"]]), to: "d.jsonl", in: dir)
        let r = try BuiltinPlugins.records("jsonl", ["path": f.path])
        XCTAssertEqual(r.map(\.prompt), ["p", "q"])
        XCTAssertEqual(r[0].responses, ["a", "b", "e", "f"])
        XCTAssertEqual(r[0].pairs, [PromptRecord.Pair(0, 1), PromptRecord.Pair(2, 3)])
        XCTAssertEqual(r[0].sftTarget, "e")
    }

    func testJSONLRecordRowsKeepTheirPairsAndShiftThemWhenMerged() throws {
        let f = try Paths.write(try Paths.jsonl([
            ["prompt": "p", "responses": ["a", "b", "c"], "pairs": [[2, 0], [1, 0]], "sft_target": "c"],
            ["prompt": "p", "responses": ["d", "e"], "pairs": [[1, 0]], "sft_target": "gold"],
        ]), to: "d.jsonl", in: dir)
        let r = try BuiltinPlugins.records("jsonl", ["path": f.path])
        XCTAssertEqual(r[0].responses, ["a", "b", "c", "d", "e"])
        XCTAssertEqual(r[0].pairs, [PromptRecord.Pair(2, 0), PromptRecord.Pair(1, 0), PromptRecord.Pair(4, 3)])
        XCTAssertEqual(r[0].sftTarget, "gold")
    }

    func testJSONLPairIndexOutsideTheResponsesNamesTheLine() throws {
        let f = try Paths.write(try Paths.jsonl([["prompt": "p", "responses": ["a"], "pairs": [[0, 1]], "sft_target": "a"]]),
                                to: "d.jsonl", in: dir)
        XCTAssertLoadFails("jsonl", ["path": f.path], contains: ["d.jsonl:1", "pairs[0]"])
    }

    func testJSONLFolderPathReadsEachSplitsFile() throws {
        try Paths.write(try Paths.jsonl([["prompt": "train", "chosen": "a", "rejected": "b"]]), to: "train.jsonl", in: dir)
        try Paths.write(try Paths.jsonl([["prompt": "test", "chosen": "a", "rejected": "b"]]), to: "test.jsonl", in: dir)
        XCTAssertEqual(try BuiltinPlugins.records("jsonl", ["path": dir.path], split: "test").map(\.prompt), ["test"])
        XCTAssertEqual(try BuiltinPlugins.records("jsonl", ["path": dir.path], split: "train").map(\.prompt), ["train"])
    }

    func testJSONLTestSplitOfASingleFileExplainsHowToProvideIt() throws {
        XCTAssertLoadFails("jsonl", ["path": Paths.data.appendingPathComponent("preference.jsonl").path], split: "test",
                           contains: ["no file for split 'test'", "test_path=FILE"])
    }
}
