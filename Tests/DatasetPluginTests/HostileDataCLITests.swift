import XCTest

/// Hostile data files through the built binary (a crash fails the test, not the suite): deep
/// HTML nesting, and lines without end, each ending in one `error:` line or a normal run.
final class HostileDataCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Paths.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A StackExchange row whose question and answers are `depth` unclosed `<div>`s deep.
    func deeplyNestedQuestion(depth: Int) throws -> URL {
        let data = dir.appendingPathComponent("se")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let html = String(repeating: "<div>", count: depth) + "deep text"
        func answer(_ id: Int, _ score: Int) -> [String: Any] {
            ["answer_id": id, "author": "a", "author_id": id, "author_profile": "p", "pm_score": score, "selected": false,
             "text": "<p>" + html + "</p>"]
        }
        let row: [String: Any] = ["qid": 1, "question": html, "answers": [answer(1, 5), answer(2, 1)],
                                  "date": "2020-01-01", "metadata": ["m"]]
        var line = try JSONSerialization.data(withJSONObject: row)
        line.append(0x0A)
        try line.write(to: data.appendingPathComponent("train.jsonl"))
        return data
    }

    func testHTMLNestedTensOfThousandsDeepIsReadWithoutOverflowingTheStack() throws {
        let data = try deeplyNestedQuestion(depth: 60_000)
        let r = try Run.dpohost(["data", "inspect", "se", "--option", "data_dir=\(data.path)", "--option", "shuffle=false",
                                 "--option", "test_fraction=0", "--sft", "--examples", "0"], home: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("pairs"), r.stdout)
    }

    func testALineLongerThanTheCapIsAnErrorNamingFileAndLine() throws {
        let file = dir.appendingPathComponent("long.jsonl")
        let row = #"{"prompt": "p", "chosen": "c", "rejected": "r"}"#
        try Data((row + "\n" + String(repeating: "x", count: 5000) + "\n").utf8).write(to: file)
        let r = try Run.dpohost(["data", "inspect", "jsonl", "--option", "path=\(file.path)", "--option", "max_line_bytes=4096"],
                                home: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(file.path):2: a line longer than 4096 bytes (the max_line_bytes option of the dataset raises the cap)"),
                      r.stderr)
    }

    func testADataFileWithoutLineEndsStopsAtTheCap() throws {
        let file = dir.appendingPathComponent("zero.jsonl")
        try FileManager.default.createSymbolicLink(atPath: file.path, withDestinationPath: "/dev/zero")
        let r = try Run.dpohost(["data", "inspect", "jsonl", "--option", "path=\(file.path)", "--option", "max_line_bytes=1000000"],
                                home: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(file.path):1: a line longer than 1000000 bytes"), r.stderr)
    }
}
