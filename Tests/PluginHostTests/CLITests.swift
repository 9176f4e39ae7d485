import XCTest
@testable import PluginHost

/// The `dpohost plugins` commands, run as a user would: one clear message, non-zero exit on error.
final class CLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Build.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testListAndInfoShowTheCExamples() throws {
        let hinge = try Build.example("examples/hinge-loss/hinge.c", into: dir)
        let mydata = try Build.example("examples/mydata/mydata.c", into: dir)
        let list = try Build.dpohost(["plugins", "list", "--plugin", hinge, "--plugin", mydata], home: dir)
        XCTAssertEqual(list.status, 0, list.stderr)
        // Columns are padded to the longest name, which the built-ins set; compare fields. The
        // example shares its name with the built-in `hinge`, so look for its row by file.
        let rows = list.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertTrue(rows.contains(["hinge", "loss", "1.0.0", "1", hinge]), list.stdout)
        XCTAssertTrue(rows.contains { $0.prefix(2) == ["mydata", "dataset"] }, list.stdout)
        // Every plugin row is followed by its one-line description.
        let lines = list.stdout.split(separator: "\n").map(String.init)
        for (i, l) in lines.enumerated() where l.hasPrefix("dpo ") || l.hasPrefix("ipo ") || l.hasPrefix("simpo ") {
            XCTAssertTrue(i + 1 < lines.count && lines[i + 1].hasPrefix("    ") && lines[i + 1].count > 10, list.stdout)
        }
        let info = try Build.dpohost(["plugins", "info", "hinge", "--plugin", hinge], home: dir)
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("beta (float, default 0.1)  scale of the margin h inside the hinge"), info.stdout)
    }

    func testRecordsOfTheCDatasetPrintAsJSONLines() throws {
        let mydata = try Build.example("examples/mydata/mydata.c", into: dir)
        let tsv = dir.appendingPathComponent("d.tsv")
        try "q\ta\tb\n".write(to: tsv, atomically: true, encoding: .utf8)
        let r = try Build.dpohost(["plugins", "records", "mydata", "--option", "path=\(tsv.path)", "--plugin", mydata], home: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, #"{"pairs":[[0,1]],"prompt":"q","responses":["a","b"],"sft_target":"a"}"# + "\n")
    }

    /// Asserts a one-line `error:` message containing `fragment`, a non-zero exit and no crash.
    func assertRefused(_ args: [String], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try Build.dpohost(args, home: dir)
        XCTAssertEqual(r.status, 1, "exit status (a crash would be a signal): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: "), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(fragment), "'\(r.stderr)' lacks '\(fragment)'", file: file, line: line)
    }

    func testBadPluginFilesAreRefusedWithNonZeroExit() throws {
        let text = dir.appendingPathComponent("text.so")
        try "hello".write(to: text, atomically: true, encoding: .utf8)
        try assertRefused(["plugins", "list", "--plugin", text.path], "not a loadable shared object")
        let noInit = try Build.plugin(code: brokenPluginSource, into: dir, name: "noinit", defines: ["NO_INIT"])
        try assertRefused(["plugins", "list", "--plugin", noInit], "does not export 'dph_plugin_init'")
        let newer = try Build.plugin(code: brokenPluginSource, into: dir, name: "newer", defines: ["ABI=2"])
        try assertRefused(["plugins", "list", "--plugin", newer], "built for plugin ABI 2, newer")
        let older = try Build.plugin(code: brokenPluginSource, into: dir, name: "older", defines: ["ABI=0"])
        try assertRefused(["plugins", "list", "--plugin", older], "built for plugin ABI 0, older")
        let badSize = try Build.plugin(code: brokenPluginSource, into: dir, name: "badsize", defines: ["DESC_SIZE=8"])
        try assertRefused(["plugins", "list", "--plugin", badSize], "struct_size is 8")
        let initFails = try Build.plugin(code: brokenPluginSource, into: dir, name: "initfails", defines: ["INIT_FAILS"])
        try assertRefused(["plugins", "list", "--plugin", initFails], "cannot read its license file")
    }

    func testPluginErrorsAndBadOptionsEndInOneMessage() throws {
        let mydata = try Build.example("examples/mydata/mydata.c", into: dir)
        let tsv = dir.appendingPathComponent("bad.tsv")
        try "only\ttwo\n".write(to: tsv, atomically: true, encoding: .utf8)
        try assertRefused(["plugins", "records", "mydata", "--option", "path=\(tsv.path)", "--plugin", mydata],
                          "\(tsv.path):1: expected 3 tab-separated fields")
        try assertRefused(["plugins", "records", "mydata", "--option", "paht=\(tsv.path)", "--plugin", mydata],
                          "did you mean 'path'?")
        try assertRefused(["plugins", "records", "mydata", "--plugin", mydata], "requires option 'path'")
        try assertRefused(["plugins", "info", "nosuch", "--plugin", mydata], "no plugin named 'nosuch'")
    }

    func testInstallRefusesABadBundleAndVerifyRechecks() throws {
        let bundle = dir.appendingPathComponent("bundle")
        try FileManager.default.createDirectory(at: bundle, withIntermediateDirectories: true)
        let hinge = try Build.example("examples/hinge-loss/hinge.c", into: bundle)
        func manifest(_ sha: String) throws {
            let m: [String: Any] = ["name": "hb", "version": "1", "abi": 1,
                                    "plugins": [["file": "hinge.so", "kind": "loss", "name": "hinge", "sha256": sha]]]
            try JSONSerialization.data(withJSONObject: m).write(to: bundle.appendingPathComponent("manifest.json"))
        }
        let target = dir.appendingPathComponent("plugins").path
        try manifest(String(repeating: "a", count: 64))
        try assertRefused(["plugins", "install", bundle.path, "--dir", target], "checksum mismatch for hinge.so")

        try manifest(try SHA256.hex(fileAt: hinge))
        let ok = try Build.dpohost(["plugins", "install", bundle.path, "--dir", target], home: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("installed bundle hb 1 (1 plugin)"), ok.stdout)
        let verified = try Build.dpohost(["plugins", "verify", "--dir", target], home: dir)
        XCTAssertEqual(verified.status, 0, verified.stderr)
        XCTAssertEqual(verified.stdout, "ok hb\n")

        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: target + "/hb/hinge.so"))
        let tampered = try Build.dpohost(["plugins", "verify", "--dir", target], home: dir)
        XCTAssertEqual(tampered.status, 1)
        XCTAssertTrue(tampered.stderr.contains("FAILED hb: bundle"), tampered.stderr)
        XCTAssertTrue(tampered.stderr.contains("checksum mismatch for hinge.so"), tampered.stderr)
    }
}
