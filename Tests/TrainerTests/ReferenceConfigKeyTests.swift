import Foundation
import XCTest

/// Keys of the references' configs that dpohost reads are honoured or reported, never silently
/// ignored.
final class ReferenceConfigKeyTests: XCTestCase, CLIRunning {
    func testTDPOAcceptsReferenceFreeAsItsReferenceDoesAndSaysItIsUnused() throws {
        let r = try dpohost(["train"] + common(tempRun("tdpo-free")) + ["loss=tdpo", "loss.reference_free=true", "n_examples=4"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("reference_free=true is unused by TDPO"), r.output)
    }

    func testAPolicyDtypeOtherThanFloat32IsRefusedNamingTheKey() throws {
        let r = try dpohost(["train"] + common(tempRun("policy-dtype")) + ["loss=sft", "model.policy_dtype=bfloat16", "n_examples=4"])
        XCTAssertEqual(r.status, 1, r.output)
        let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, r.output)
        XCTAssertTrue(errors.first?.contains("model.policy_dtype") == true && errors.first?.contains("bfloat16") == true, r.output)
    }
}
