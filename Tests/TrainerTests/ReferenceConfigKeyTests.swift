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

    func testABlockNameThatIsNotTheModelsBlockIsRefusedBeforeTheRun() throws {
        let run = tempRun("block-name")
        let r = try dpohost(["train"] + common(run) + ["loss=sft", "model.block_name=LlamaDecoderLayer", "n_examples=4"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error: model.block_name=LlamaDecoderLayer: the pythia model's repeated block is GPTNeoXLayer (gpt_neox.layers.{i}); set model.block_name=GPTNeoXLayer or null"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path))
        let ok = try dpohost(["train"] + common(tempRun("block-name-ok")) + ["loss=sft", "model.block_name=GPTNeoXLayer", "n_examples=4"])
        XCTAssertEqual(ok.status, 0, ok.output)
    }

    func testAPolicyDtypeOtherThanFloat32IsRefusedNamingTheKey() throws {
        let r = try dpohost(["train"] + common(tempRun("policy-dtype")) + ["loss=sft", "model.policy_dtype=bfloat16", "n_examples=4"])
        XCTAssertEqual(r.status, 1, r.output)
        let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, r.output)
        XCTAssertTrue(errors.first?.contains("model.policy_dtype") == true && errors.first?.contains("bfloat16") == true, r.output)
    }
}

/// The reference's `gptj` preset runs, on the plain-C GPT-J plugin.
final class GPTJPresetTests: XCTestCase, CLIRunning {
    func testTheReferencesGPTJPresetTrainsWithALocalPath() throws {
        let model = CLIHarness.repo.appendingPathComponent("Tests/Fixtures/models/gptj-tiny").path
        let args = common(tempRun("gptj")).filter { !$0.hasPrefix("model=") }
        let r = try dpohost(["train"] + args + ["model=gptj", "model.name_or_path=\(model)", "loss=dpo", "loss.beta=0.1",
                                                "n_examples=8", "max_length=96", "max_prompt_length=48"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("policy gptj"), r.output)
    }
}
