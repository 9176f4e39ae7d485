import Foundation
import Reporting
import Training
import XCTest

/// SFT then DPO on a conversational file through the CLI, the tiny model given a chat template
/// (the zephyr tokenizer copy): the SFT stage trains on the rendered chosen conversations and the
/// DPO stage starts from its checkpoint, on the same rows rendered with the template.
final class ConversationalTrainingTests: XCTestCase, CLIRunning {
    static let chat = CLIHarness.repo.appendingPathComponent("Tests/Fixtures/chat")

    func run(_ dir: URL, _ extra: [String]) throws -> RunResult {
        try dpohost(["train", "model=pythia-tiny", "model.name_or_path=Tests/Fixtures/models/pythia-tiny",
                     "model.tokenizer_name_or_path=\(Self.chat.appendingPathComponent("tokenizers/pythia-tiny-zephyr").path)",
                     "datasets=[jsonl]", "dataset_options.jsonl.path=\(Self.chat.appendingPathComponent("datasets/implicit_prompt.jsonl").path)",
                     "n_eval_examples=0", "batch_size=4", "n_examples=8", "exp_name=chat", "local_run_dir=\(dir.path)",
                     "max_length=192", "max_prompt_length=128", "lr=1e-4", "warmup_steps=0", "minimum_log_interval_secs=0",
                     "model.reference_dtype=float32", "progress=off", "threads=1"] + extra)
    }

    func testSFTThenDPOOnConversationsRenderedWithTheModelsTemplate() throws {
        let sftDir = tempRun("chat-sft"), dpoDir = tempRun("chat-dpo")
        let sft = try run(sftDir, ["loss=sft"])
        XCTAssertEqual(sft.status, 0, sft.output)
        XCTAssertTrue(sft.output.contains("conversational rows rendered with the chat template of"), sft.output)
        let dpo = try run(dpoDir, ["loss=dpo", "loss.beta=0.1", "model.archive=\(sftDir.appendingPathComponent("LATEST/policy.safetensors").path)"])
        XCTAssertEqual(dpo.status, 0, dpo.output)
        let sftLosses = try trainLosses(sftDir), dpoRecords = try MetricsLog.read(dpoDir.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(sftLosses.count, 2)
        XCTAssertTrue(sftLosses.values.allSatisfy { $0.isFinite && $0 > 0 })
        // Policy and reference both start from the SFT weights: the first DPO loss is ln 2.
        let first = try XCTUnwrap(dpoRecords.first { $0.split == "train" })
        XCTAssertEqual(first.values["loss/train"]!, log(2), accuracy: 1e-5)
    }

    func testAConversationalFileWithAModelWithoutATemplateSaysHowToGiveOne() throws {
        let r = try dpohost(["train", "model=pythia-tiny", "model.name_or_path=Tests/Fixtures/models/pythia-tiny", "datasets=[jsonl]",
                             "dataset_options.jsonl.path=\(Self.chat.appendingPathComponent("datasets/conversational.jsonl").path)",
                             "n_eval_examples=0", "batch_size=4", "n_examples=4", "exp_name=chat", "loss=sft",
                             "local_run_dir=\(tempRun("no-template").path)", "progress=off"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error: the data is conversational (message lists) but Tests/Fixtures/models/pythia-tiny has no chat template"), r.output)
        XCTAssertTrue(r.output.contains("chat_template=FILE"), r.output)
    }
}
