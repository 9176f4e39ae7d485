import Foundation
import Reporting
import TestSupport
import Training
import XCTest

/// Running out of space (a file-size limit stands in for a full disk: writes fail with EFBIG as
/// they would with ENOSPC) ends a command with one `error:` line naming the file and the reason,
/// never a signal, and loses nothing that was complete.
final class FullDiskCLITests: XCTestCase, CLIRunning {
    /// `dpohost ARGS` under `ulimit -f BLOCKS` (512-byte blocks in sh).
    func limited(_ blocks: Int, _ args: [String]) throws -> RunResult {
        let quoted = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let r = try ProcessRunner.run("/bin/sh", ["-c", "ulimit -f \(blocks); exec '\(CLIHarness.binary)' \(quoted)"],
                                      currentDirectory: CLIHarness.repo, combineOutput: true)
        return RunResult(status: r.status, output: r.stdout)
    }

    func testACheckpointThatDoesNotFitIsOneErrorLineAndLeavesNoHalfFolder() throws {
        let run = tempRun("full")
        let r = try limited(300, ["train"] + common(run) + ["loss=sft", "n_examples=8", "eval_every=4"])
        XCTAssertEqual(r.status, 1, r.output)
        let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 1, r.output)
        XCTAssertTrue(errors.first?.contains("policy.safetensors") ?? false, r.output)
        XCTAssertTrue(errors.first?.contains("File too large") ?? false, r.output)
        let names = try FileManager.default.contentsOfDirectory(atPath: run.path)
        XCTAssertFalse(names.contains { $0.contains(".partial-") }, "\(names)")
        XCTAssertNoThrow(try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")))
    }

    func testAnExportThatDoesNotFitNamesItsFile() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-export-\(UUID())")
        let r = try limited(10, ["export", "Tests/Fixtures/models/gpt2-tiny", out.path])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error: \(out.path)/model.safetensors: write failed, target left unchanged: File too large"), r.output)
    }

    func testAFoundationFileErrorNamesThePathAndTheReason() throws {
        let r = try dpohost(["export", "Tests/Fixtures/models/gpt2-tiny", "/proc/1/no-such-folder/out"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error: /proc/1/no-such-folder: No such file or directory"), r.output)
        XCTAssertFalse(r.output.contains("NSCocoaErrorDomain"), r.output)
    }
}
