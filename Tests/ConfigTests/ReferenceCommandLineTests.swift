import XCTest
@testable import Configuration

/// The command lines of the DPO and TDPO references' READMEs, with `python -u train.py` dropped.
final class ReferenceCommandLineTests: XCTestCase {
    func testReadmeSFTCommandLine() throws {
        let args = "model=pythia28 datasets=[hh] loss=sft exp_name=anthropic_dpo_pythia28 gradient_accumulation_steps=2 batch_size=64 eval_batch_size=32 trainer=FSDPTrainer sample_during_eval=false"
        let c = try load(args.split(separator: " ").map(String.init)).config
        XCTAssertEqual(c.model.nameOrPath, "EleutherAI/pythia-2.8b")
        XCTAssertEqual(c.model.blockName, "GPTNeoXLayer")
        XCTAssertEqual(c.datasets, ["hh"])
        XCTAssertEqual(c.loss.name, "sft")
        XCTAssertEqual(c.expName, "anthropic_dpo_pythia28")
        XCTAssertEqual(c.gradientAccumulationSteps, 2)
        XCTAssertEqual(c.batchSize, 64)
        XCTAssertEqual(c.evalBatchSize, 32)
        XCTAssertEqual(c.trainer, .fullySharded)
        XCTAssertFalse(c.sampleDuringEval)
        XCTAssertEqual(c.evalEvery, 19_968) // 20000 rounded down to a multiple of 64
    }

    func testReadmeDPOCommandLine() throws {
        let args = "model=pythia28 datasets=[hh] loss=dpo loss.beta=0.1 model.archive=/path/to/archive/from/sft/LATEST/policy.pt exp_name=anthropic_dpo_pythia28 gradient_accumulation_steps=2 batch_size=64 eval_batch_size=32 trainer=FSDPTrainer sample_during_eval=false model.fsdp_policy_mp=bfloat16"
        let c = try load(args.split(separator: " ").map(String.init)).config
        XCTAssertEqual(c.loss.name, "dpo")
        XCTAssertEqual(c.loss.options["beta"], .double(0.1))
        XCTAssertEqual(c.loss.options["label_smoothing"], .int(0))
        XCTAssertEqual(c.model.archive, "/path/to/archive/from/sft/LATEST/policy.pt")
        XCTAssertEqual(c.model.fsdpPolicyMp, "bfloat16")
        XCTAssertEqual(c.model.nameOrPath, "EleutherAI/pythia-2.8b")
        XCTAssertEqual(c.batchSize, 64)
        XCTAssertEqual(c.trainer, .fullySharded)
    }

    func testTDPOReadmeCommandLine() throws {
        let args = "model=pythia28 datasets=[hh] loss=tdpo loss.alpha=0.5 loss.beta=0.1 loss.if_tdpo2=true exp_name=anthropic_tdpo_pythia28 gradient_accumulation_steps=2 batch_size=64 eval_batch_size=32 trainer=FSDPTrainer sample_during_eval=false model.fsdp_policy_mp=bfloat16 n_epochs=3"
        let c = try load(args.split(separator: " ").map(String.init)).config
        XCTAssertEqual(c.loss.name, "tdpo")
        XCTAssertEqual(c.loss.options["alpha"], .double(0.5))
        XCTAssertEqual(c.loss.options["beta"], .double(0.1))
        XCTAssertEqual(c.loss.options["if_tdpo2"], .bool(true))
        XCTAssertEqual(c.nEpochs, 3)
        XCTAssertEqual(c.expName, "anthropic_tdpo_pythia28")
    }
}
