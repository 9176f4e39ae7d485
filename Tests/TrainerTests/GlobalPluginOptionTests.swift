import Foundation
import TestSupport
import XCTest

/// `dpohost --plugin x.so SUBCOMMAND ...`, the product's own usage line, works as the subcommand
/// forms do.
final class GlobalPluginOptionTests: XCTestCase, CLIRunning {
    /// `cc -shared -fPIC -I SDK/include examples/mydata/mydata.c -o DIR/libmydata.so`.
    func buildMydata() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-mydata-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("libmydata.so").path
        let cc = try CPlugin.compile(CLIHarness.repo.appendingPathComponent("examples/mydata/mydata.c"), to: out)
        XCTAssertEqual(cc.status, 0, cc.stderr)
        return out
    }

    func testAPluginBeforeTheSubcommandIsListed() throws {
        let so = try buildMydata()
        let r = try dpohost(["--plugin", so, "plugins", "list"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("mydata"), r.output)
        let eq = try dpohost(["--plugin=\(so)", "plugins", "info", "mydata"])
        XCTAssertEqual(eq.status, 0, eq.output)
    }

    func testADatasetPluginBeforeTrainTrainsOnItsData() throws {
        let so = try buildMydata()
        let dir = URL(fileURLWithPath: so).deletingLastPathComponent()
        let rows = (0..<8).map { "Question \($0)?\tA kind answer \($0).\tNo." }.joined(separator: "\n") + "\n"
        let train = dir.appendingPathComponent("train.tsv"), test = dir.appendingPathComponent("test.tsv")
        try rows.write(to: train, atomically: true, encoding: .utf8)
        try rows.write(to: test, atomically: true, encoding: .utf8)
        let run = tempRun("mydata")
        let args = common(run).filter { !$0.hasPrefix("datasets=") && !$0.hasPrefix("dataset_options.hh") }
        let r = try dpohost(["--plugin", so, "train"] + args + ["datasets=[mydata]", "dataset_options.mydata.path=\(train.path)",
                                                               "dataset_options.mydata.test_path=\(test.path)", "loss=sft", "n_examples=8"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("8 train prompts"), r.output)
    }

    func testABogusPluginBeforeTheSubcommandIsRefusedNamingTheFile() throws {
        let bogus = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-bogus-\(UUID()).so")
        try Data("not an ELF file".utf8).write(to: bogus)
        let r = try dpohost(["--plugin", bogus.path, "plugins", "list"])
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("error:") && r.output.contains(bogus.path), r.output)
    }
}
