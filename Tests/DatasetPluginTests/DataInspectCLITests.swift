import XCTest

/// `dpohost data inspect`, run as a user would through the built binary.
final class DataInspectCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Paths.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testInspectOfTheHHFixtureShowsCountsLengthsAndTheMaskedPrompt() throws {
        let r = try Run.dpohost(["data", "inspect", "hh", "--option", "data_dir=\(Paths.data.appendingPathComponent("hh").path)",
                                 "--model", Paths.gpt2.path, "--max-length", "60", "--max-prompt-length", "30", "--examples", "1"],
                                home: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("dataset hh, split train (truncation keep_end)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("prompts             29"), r.stdout)
        XCTAssertTrue(r.stdout.contains("pairs               30"), r.stdout)
        XCTAssertTrue(r.stdout.contains("lengths in tokens over 30 examples"), r.stdout)
        XCTAssertTrue(r.stdout.contains("prompt cut to max_prompt_length      18 of 30"), r.stdout)
        // keep_end: the first prompt keeps its last 30 tokens, so the example starts mid-transcript.
        XCTAssertTrue(r.stdout.contains("chosen: [prompt] simmer on low heat for eighteen minutes."), r.stdout)
        XCTAssertTrue(r.stdout.contains("Assistant:[/prompt] If that doesn't work, try the second option and give it a few days.<|endoftext|>"),
                      r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "--- example").count, 2) // exactly one example
        XCTAssertTrue(r.stderr.contains("[hh] info: train: 30 rows from 1 file"), r.stderr)
    }

    func testInspectWithoutAModelCountsCharactersAndShowsSFTTargets() throws {
        let r = try Run.dpohost(["data", "inspect", "shp", "--option", "data_dir=\(Paths.data.appendingPathComponent("shp").path)",
                                 "--sft", "--examples", "1"], home: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("lengths in characters over 7 examples"), r.stdout)
        XCTAssertTrue(r.stdout.contains("sft target: [prompt]\n\nHuman: How do you convert Celsius"), r.stdout)
        XCTAssertTrue(r.stderr.contains("skipped 2 with score ratio < 2"), r.stderr)
    }

    func testInspectOfABadFileIsOneErrorLineAndExitStatus1() throws {
        let r = try Run.dpohost(["data", "inspect", "jsonl", "--option", "path=\(Paths.bad.appendingPathComponent("not_an_object.jsonl").path)"],
                                home: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("error: "), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("not_an_object.jsonl:2: a record must be a JSON object"), r.stderr)
    }
}
