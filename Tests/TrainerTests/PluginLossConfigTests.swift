import Foundation
import Reporting
import XCTest

/// `loss=NAME` for a loss plugin that ships no `config/loss/NAME.yaml`: the loss section is the
/// plugin's declared options with their defaults, set and checked like any loss option.
final class PluginLossConfigTests: XCTestCase, CLIRunning {
    /// examples/hinge-loss/hinge.c renamed `my_hinge` (no YAML of that name exists), built as a
    /// user builds it. `countingInits`: its entry point also appends a line to the file
    /// `$DPH_TEST_INIT_LOG` names, each time it runs.
    func buildMyHinge(countingInits: Bool = false) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-my-hinge-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let source = try String(contentsOf: CLIHarness.repo.appendingPathComponent("examples/hinge-loss/hinge.c"), encoding: .utf8)
        XCTAssertTrue(source.contains("d->name = \"hinge\";"))
        let renamed = dir.appendingPathComponent("my_hinge.c")
        var text = source.replacingOccurrences(of: "d->name = \"hinge\";", with: "d->name = \"my_hinge\";")
        if countingInits {
            let entry = "DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *d) {"
            XCTAssertTrue(text.contains(entry))
            text = "#include <stdio.h>\n#include <stdlib.h>\n" + text.replacingOccurrences(of: entry, with: entry + """

                    { const char *log = getenv("DPH_TEST_INIT_LOG"); FILE *f = log ? fopen(log, "a") : NULL; if (f) { fputs("init\\n", f); fclose(f); } }
                """)
        }
        try text.write(to: renamed, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("libmy_hinge.so").path
        let cc = try run(URL(fileURLWithPath: "/usr/bin/env"), ["cc", "-shared", "-fPIC", "-std=gnu11", "-I", CLIHarness.repo.appendingPathComponent("SDK/include").path,
                                          renamed.path, "-o", out, "-lm"])
        XCTAssertEqual(cc.status, 0, cc.output)
        return out
    }

    func effectiveConfig(_ run: URL) throws -> String {
        try String(contentsOf: run.appendingPathComponent("config.yaml"), encoding: .utf8)
    }

    func testALossPluginWithoutAConfigFileTrainsWithItsDeclaredDefaults() throws {
        let so = try buildMyHinge()
        let run = tempRun("my-hinge")
        let r = try dpohost(["--plugin", so, "train"] + common(run) + ["loss=my_hinge", "n_examples=4"])
        XCTAssertEqual(r.status, 0, r.output)
        let yaml = try effectiveConfig(run)
        XCTAssertTrue(yaml.contains("name: my_hinge"), yaml)
        XCTAssertTrue(yaml.contains("beta: 0.1"), yaml)
        // Its metrics, emitted under {split}, are logged under the split they ran for.
        let train = try XCTUnwrap(MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).first { $0.split == "train" }).values
        XCTAssertNotNil(train["loss/train"], "\(train.keys.sorted())")
        XCTAssertNotNil(train["rewards_train/margins"], "\(train.keys.sorted())")
    }

    func testItsOptionsAreSetOnTheCommandLineAndAMisspeltOneIsSuggested() throws {
        let so = try buildMyHinge()
        let run = tempRun("my-hinge-beta")
        let r = try dpohost(["--plugin", so, "train"] + common(run) + ["loss=my_hinge", "loss.beta=0.3", "n_examples=4"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(try effectiveConfig(run).contains("beta: 0.3"))
        let typo = try dpohost(["--plugin", so, "train"] + common(tempRun("typo")) + ["loss=my_hinge", "loss.bta=0.3"])
        XCTAssertEqual(typo.status, 1, typo.output)
        XCTAssertTrue(typo.output.contains("error: unknown config key 'loss.bta'; did you mean 'loss.beta'?"), typo.output)
    }

    /// A library named both by `--plugin` and by the config's `plugins:` is loaded once: its
    /// entry point runs once.
    func testAPluginNamedOnTheCommandLineAndInTheConfigIsLoadedOnce() throws {
        let so = try buildMyHinge(countingInits: true)
        let log = URL(fileURLWithPath: so).deletingLastPathComponent().appendingPathComponent("inits.log")
        // The config spells the same file another way.
        let file = URL(fileURLWithPath: so)
        let sameFile = file.deletingLastPathComponent().path + "/./" + file.lastPathComponent
        let r = try dpohost(["--plugin", so, "train"] + common(tempRun("my-hinge-once")) + ["loss=my_hinge", "n_examples=4", "plugins=[\(sameFile)]"],
                            environment: ["DPH_TEST_INIT_LOG": log.path])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try String(contentsOf: log, encoding: .utf8), "init\n")
    }

    func testALossNamedByNoFileAndNoPluginListsTheChoices() throws {
        let r = try dpohost(["train"] + common(tempRun("none")) + ["loss=no_such_loss"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("no_such_loss") && r.output.contains("dpo"), r.output)
    }
}
