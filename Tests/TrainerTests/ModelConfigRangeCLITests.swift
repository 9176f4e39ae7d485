import Foundation
import XCTest

/// A config.json with sizes out of range ends the command with one `error:` line naming the key
/// and value (or the memory the sizes would need), never a signal, an allocation of the machine's
/// memory or a loop over a billion layers. Each runs the real binary as a child process, so a
/// crash fails the test rather than the suite.
final class ModelConfigRangeCLITests: XCTestCase, CLIRunning {
    /// A copy of fixture model `name` with `changes` merged into its config.json.
    func model(_ name: String, _ changes: [String: Any]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-config-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let copy = dir.appendingPathComponent(name)
        try FileManager.default.copyItem(at: CLIHarness.repo.appendingPathComponent("Tests/Fixtures/models/\(name)"), to: copy)
        let file = copy.appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        config.merge(changes) { $1 }
        try JSONSerialization.data(withJSONObject: config).write(to: file)
        return copy
    }

    func errorLines(_ name: String, _ changes: [String: Any]) throws -> [String] {
        let r = try dpohost(["generate", "--model", try model(name, changes).path, "--prompt", "Hi", "--max-new-tokens", "1"])
        XCTAssertEqual(r.status, 1, r.output)
        return r.output.split(separator: "\n").filter { $0.hasPrefix("error: ") }.map(String.init)
    }

    func testANegativeLayerCountIsRefusedByKey() throws {
        XCTAssertEqual(try errorLines("gpt2-tiny", ["n_layer": -1]),
                       ["error: plugin 'gpt2' failed in configure (status 1): config.json 'n_layer' is -1; it must be at least 1"])
    }

    func testANegativeHeadSizeIsRefusedByKey() throws {
        XCTAssertEqual(try errorLines("llama-tiny", ["head_dim": -4]),
                       ["error: plugin 'llama' failed in configure (status 1): config.json 'head_dim' is -4; it must be at least 2"])
    }

    func testARotaryFractionOutsideZeroToOneIsRefusedByKey() throws {
        let lines = try errorLines("pythia-tiny", ["rotary_pct": -0.5])
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines.first?.contains("config.json 'rotary_pct' is -0.5; it must be above 0 and at most 1") ?? false, "\(lines)")
    }

    func testAHiddenSizeBeyondMemoryIsRefusedBeforeAllocating() throws {
        let lines = try errorLines("gpt2-tiny", ["n_embd": 4_000_000_000, "n_head": 1])
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines.first?.contains("more than this machine's") ?? false, "\(lines)")
    }

    // Found by the ModelConfigFuzzer: the rotary table was built from head_dim before the
    // memory check, so a huge head_dim was an allocation of 2^56 floats.
    func testAHugeHeadSizeIsRefusedBeforeTheRotaryTableIsBuilt() throws {
        let lines = try errorLines("llama-tiny", ["head_dim": 1 << 57])
        XCTAssertEqual(lines, ["error: plugin 'llama' failed in configure (status 1): config.json 'head_dim' is "
                               + "144115188075855872; it must be at most 4294967296"])
    }

    func testAHiddenSizeBeyondMemoryIsRefusedBeforePythiasRotaryTable() throws {
        let lines = try errorLines("pythia-tiny", ["hidden_size": 4_000_000_000, "num_attention_heads": 1, "rotary_pct": 1])
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines.first?.contains("more than this machine's") ?? false, "\(lines)")
    }

    func testASizeWhoseProductsWouldOverflowIsRefusedByKey() throws {
        XCTAssertEqual(try errorLines("gpt2-tiny", ["n_embd": 1 << 62, "n_head": 1]),
                       ["error: plugin 'gpt2' failed in configure (status 1): config.json 'n_embd' is 4611686018427387904; "
                        + "it must be at most 4294967296"])
    }

    func testABillionLayersEndWithAnErrorInsteadOfALoop() throws {
        let lines = try errorLines("pythia-tiny", ["num_hidden_layers": 1_000_000_000])
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines.first?.contains("more than this machine's") ?? false, "\(lines)")
    }

    func testAMaxLengthPastGPT2sPositionsIsRefusedBeforeTheRunDirectoryExists() throws {
        let run = tempRun("positions")
        let r = try dpohost(["train", "model=gpt2-tiny", "datasets=[hh]", "dataset_options.hh.data_dir=Tests/Fixtures/data/hh",
                             "exp_name=p", "local_run_dir=\(run.path)", "loss=sft", "n_examples=8", "batch_size=4",
                             "eval_batch_size=4", "max_length=512", "max_prompt_length=64", "progress=off", "threads=1"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error: max_length=512 needs 512 positions; the model has 128 (n_positions in "), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path))
    }

    func testAGenerationPastGPT2sPositionsIsRefusedInsteadOfRunningOn() throws {
        let r = try dpohost(["generate", "--model", "Tests/Fixtures/models/gpt2-tiny", "--prompt", "Hi",
                             "--max-new-tokens", "1000000"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("with --max-new-tokens 1000000 needs 1000002 positions; the model has 128 (n_positions in"), r.output)
    }
}
