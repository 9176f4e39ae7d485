import Checkpoint
import Foundation
import XCTest

/// PyTorch-format checkpoints from the command line: the DPO reference's second stage
/// (`model.archive=.../policy.pt`) and `dpohost export` of a `pytorch_model.bin` folder.
final class TorchFormatCommandTests: XCTestCase, CLIRunning {
    let fixtures = CLIHarness.repo.appendingPathComponent("Tests/Fixtures")

    func testADPORunStartsFromTheReferencesPolicyArchive() throws {
        let archive = fixtures.appendingPathComponent("torch-format/policy.pt").path
        let r = try dpohost(["train"] + common(tempRun("archive")) + ["loss=dpo", "loss.beta=0.1", "n_examples=4",
                                                                     "model.archive=\(archive)"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("loaded \(archive) into the policy and the reference"), r.output)
    }

    func testExportTurnsAShardedPytorchModelBinFolderIntoSafetensors() throws {
        let out = tempRun("export")
        let r = try dpohost(["export", fixtures.appendingPathComponent("torch-format/gpt2-tiny-bin-sharded").path, out.path])
        XCTAssertEqual(r.status, 0, r.output)
        let exported = try ModelDirectory(path: out.path)
        let original = try ModelDirectory(path: fixtures.appendingPathComponent("models/gpt2-tiny").path)
        XCTAssertFalse(exported.tensorNames.isEmpty)
        for name in exported.tensorNames {
            XCTAssertEqual(try exported.floatTensor(named: name).scalars, try original.floatTensor(named: name).scalars, name)
        }
    }

    func testAMaliciousArchiveIsOneErrorLineAndRunsNothing() throws {
        let evil = fixtures.appendingPathComponent("torch-format/evil-system.pt").path
        let r = try dpohost(["train"] + common(tempRun("evil")) + ["loss=sft", "n_examples=4", "model.archive=\(evil)"])
        XCTAssertEqual(r.status, 1, r.output)
        let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, r.output)
        XCTAssertTrue(errors.first?.contains("\(evil): refused: the pickle names posix.system") == true, r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/dpohost-pickle-ran"))
    }
}
