import Foundation
import Training
import XCTest

/// `share_prompt` through the real CLI on the HH samples: the default runs each pair's prompt once
/// and says so; `share_prompt=false` runs whole rows; the losses agree up to float rounding.
final class SharedPromptTrainingTests: XCTestCase, CLIRunning {
    func testTrainingWithSharedPromptsLogsItAndGivesTheWholeRowsLosses() throws {
        let dpo = ["loss=dpo", "loss.beta=0.1", "n_examples=12"]
        let whole = tempRun("whole"), shared = tempRun("shared")
        let a = try dpohost(["train"] + common(whole) + dpo + ["share_prompt=false"])
        XCTAssertEqual(a.status, 0, a.output)
        let b = try dpohost(["train"] + common(shared) + dpo)
        XCTAssertEqual(b.status, 0, b.output)
        XCTAssertFalse(a.output.contains("share_prompt:"), a.output)
        XCTAssertEqual(b.output.components(separatedBy: "share_prompt: each pair's first").count - 1, 1, b.output)
        let expected = try trainLosses(whole), got = try trainLosses(shared)
        XCTAssertEqual(Set(got.keys), [4, 8, 12])
        XCTAssertEqual(Set(got.keys), Set(expected.keys))
        for (examples, loss) in expected {
            XCTAssertEqual(try XCTUnwrap(got[examples]), loss, accuracy: 1e-5 * max(1, abs(loss)), "loss after \(examples) examples")
        }
    }

    func testSFTNeverSharesAPrompt() throws {
        let run = tempRun("sft")
        let r = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=4"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertFalse(r.output.contains("share_prompt:"), r.output)
    }
}
