import Foundation
import XCTest

/// Out-of-range options end the command with one `error:` line naming the option and value, before
/// a run directory exists or a model loads.
final class OptionRangeCLITests: XCTestCase, CLIRunning {
    func testTrainRefusesANegativeLearningRateBeforeTheRunDirectoryExists() throws {
        let run = tempRun("negative-lr")
        let r = try dpohost(["train", "loss=sft"] + common(run) + ["lr=-1"])
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output.split(separator: "\n").filter { $0.hasPrefix("error: ") },
                       ["error: invalid value '-1' for 'lr': must be at least 0"], r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path))
    }

    func testTrainRefusesABatchThatAccumulationStepsDoNotDivide() throws {
        let run = tempRun("uneven-accumulation")
        let r = try dpohost(["train", "loss=sft"] + common(run) + ["batch_size=6", "gradient_accumulation_steps=4"])
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("error: invalid value '6' for 'batch_size': must be a multiple of gradient_accumulation_steps (4)"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path))
    }

    func testGenerateRefusesANaNTemperature() throws {
        let r = try dpohost(["generate", "--model", "Tests/Fixtures/models/gpt2-tiny", "--prompt", "Hi", "--sample",
                             "--temperature", "nan"])
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output.split(separator: "\n").filter { $0.hasPrefix("error: ") },
                       ["error: --temperature nan: must be a finite number above 0"], r.output)
    }

    func testGenerateRefusesATopPAboveOne() throws {
        let r = try dpohost(["generate", "--model", "Tests/Fixtures/models/gpt2-tiny", "--prompt", "Hi", "--sample",
                             "--top-p", "2"])
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("error: --top-p 2.0: must be above 0 and at most 1"), r.output)
    }
}
