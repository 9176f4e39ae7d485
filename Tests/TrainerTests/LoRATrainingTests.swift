import Checkpoint
import Foundation
import Reporting
import Training
import XCTest

/// LoRA DPO through the CLI: at step 0 (B = 0) its loss and metrics are the full model's; each
/// checkpoint holds a PEFT adapter folder and a resume continues it; bad settings are one error
/// before any run directory exists.
final class LoRATrainingTests: XCTestCase, CLIRunning {
    func args(_ run: URL, _ extra: [String]) -> [String] {
        ["train", "model=pythia-tiny", "model.name_or_path=Tests/Fixtures/models/pythia-tiny", "datasets=[jsonl]",
         "dataset_options.jsonl.path=Tests/Fixtures/data/preference.jsonl", "loss=dpo", "loss.beta=0.1", "n_eval_examples=0",
         "batch_size=4", "n_examples=8", "exp_name=lora", "local_run_dir=\(run.path)", "model.reference_dtype=float32",
         "optimizer=AdamW", "lr=1e-2", "warmup_steps=0", "minimum_log_interval_secs=0", "progress=off", "threads=1"] + extra
    }

    func firstTrainRecord(_ run: URL) throws -> [String: Double] {
        try XCTUnwrap(try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).first { $0.split == "train" }).values
    }

    func testAtStepZeroALoRADPOStepGivesTheFullModelsLossAndMetrics() throws {
        let full = tempRun("full"), lora = tempRun("lora")
        XCTAssertEqual(try dpohost(args(full, [])).status, 0)
        let r = try dpohost(args(lora, ["lora.r=4", "lora.alpha=8", "lora.target_modules=all-linear"]))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("reference model: the policy's weights with the adapters off (no second copy)"), r.output)
        XCTAssertTrue(r.output.contains("reference model held: none of its own"), r.output)
        let a = try firstTrainRecord(full), b = try firstTrainRecord(lora)
        for key in ["loss/train", "rewards_train/chosen", "rewards_train/rejected", "rewards_train/margins", "logps_train/chosen", "logps_train/rejected"] {
            XCTAssertEqual(b[key]!, a[key]!, accuracy: 1e-6 * max(1, abs(a[key]!)), key)
        }
        XCTAssertEqual(b["loss/train"]!, log(2), accuracy: 1e-6)   // the reference is the base itself
    }

    func testEachCheckpointHoldsAPEFTAdapterFolderAndAResumeContinuesIt() throws {
        let run = tempRun("lora-resume")
        XCTAssertEqual(try dpohost(args(run, ["lora.r=4", "n_examples=4"])).status, 0)
        let latest = run.appendingPathComponent("LATEST")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: latest.appendingPathComponent("adapter_config.json"))) as? [String: Any]
        XCTAssertEqual(config?["peft_type"] as? String, "LORA")
        XCTAssertEqual(config?["r"] as? Int, 4)
        XCTAssertEqual(config?["target_modules"] as? [String], ["query_key_value"])
        let adapter = try SafeTensorsFile(path: latest.appendingPathComponent("adapter_model.safetensors").path)
        XCTAssertEqual(Set(adapter.tensorNames), ["base_model.model.gpt_neox.layers.0.attention.query_key_value.lora_A.weight",
                                                  "base_model.model.gpt_neox.layers.0.attention.query_key_value.lora_B.weight",
                                                  "base_model.model.gpt_neox.layers.1.attention.query_key_value.lora_A.weight",
                                                  "base_model.model.gpt_neox.layers.1.attention.query_key_value.lora_B.weight"])
        let trained = try adapter.floatTensor(named: "base_model.model.gpt_neox.layers.0.attention.query_key_value.lora_B.weight").scalars
        XCTAssertTrue(trained.contains { $0 != 0 }, "B moved from zero")
        let resumed = try dpohost(args(run, ["lora.r=4", "n_examples=8", "resume=\(run.path)"]))
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resumed from"), resumed.output)
    }

    func testABFloat16BaseIsHeldCompactAndAResumeOfItEqualsTheUninterruptedRun() throws {
        let whole = tempRun("lora-bf16"), split = tempRun("lora-bf16-split")
        let base = ["lora.r=4", "model.reference_dtype=bfloat16"]
        let r = try dpohost(args(whole, base))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("LoRA: frozen base held in bfloat16 (model.reference_dtype)"), r.output)
        XCTAssertEqual(try dpohost(args(split, base + ["n_examples=4"])).status, 0)
        let resumed = try dpohost(args(split, base + ["resume=\(split.path)"]))
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let name = "base_model.model.gpt_neox.layers.1.attention.query_key_value.lora_B.weight"
        let adapter = { (run: URL) in
            try SafeTensorsFile(path: run.appendingPathComponent("LATEST/adapter_model.safetensors").path).floatTensor(named: name).scalars
        }
        XCTAssertEqual(try adapter(split), try adapter(whole))
        XCTAssertTrue(try adapter(whole).contains { $0 != 0 })
    }

    func testAModuleToSaveTrainsInFullBesideTheAdaptersAndTheReferenceKeepsTheBase() throws {
        let run = tempRun("lora-save")
        let r = try dpohost(args(run, ["lora.r=4", "lora.modules_to_save=[embed_out]"]))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("trained in full: embed_out.weight"), r.output)
        XCTAssertEqual(try firstTrainRecord(run)["loss/train"]!, log(2), accuracy: 1e-6)   // reference = policy at step 0
        let adapter = try SafeTensorsFile(path: run.appendingPathComponent("LATEST/adapter_model.safetensors").path)
        let trained = try adapter.floatTensor(named: "base_model.model.embed_out.weight").scalars
        let base = try CheckpointStore.weights(in: "Tests/Fixtures/models/pythia-tiny")["embed_out.weight"]!.scalars
        XCTAssertEqual(trained.count, base.count)
        XCTAssertNotEqual(trained, base, "the head's copy trained")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("LATEST/adapter_config.json"))) as? [String: Any]
        XCTAssertEqual(config?["modules_to_save"] as? [String], ["embed_out"])
    }

    func testTheAdaptersOffReferenceServesPrecomputedLogProbsEvaluationAndSamples() throws {
        // Shared prompts are on by default; evaluation every 4 examples samples from policy and reference.
        let eval = ["n_eval_examples=4", "eval_every=4", "eval_batch_size=4", "sample_during_eval=true", "n_eval_model_samples=2",
                    "max_length=48", "max_prompt_length=24", "dataset_options.jsonl.test_path=Tests/Fixtures/data/preference.jsonl"]
        let live = tempRun("lora-live"), cached = tempRun("lora-cached")
        let a = try dpohost(args(live, ["lora.r=4"] + eval).filter { $0 != "n_eval_examples=0" })
        XCTAssertEqual(a.status, 0, a.output)
        let b = try dpohost(args(cached, ["lora.r=4", "precompute_ref_log_probs=true"] + eval).filter { $0 != "n_eval_examples=0" })
        XCTAssertEqual(b.status, 0, b.output)
        let records = { (run: URL) in try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")) }
        let (x, y) = (try records(live), try records(cached))
        XCTAssertEqual(x.count, y.count)
        XCTAssertTrue(x.contains { $0.split == "eval" }, "evaluation ran")
        for (r, s) in zip(x, y) {
            XCTAssertEqual(r.split, s.split)
            for key in ["loss/\(r.split)", "rewards_\(r.split)/margins"] {
                XCTAssertEqual(s.values[key] ?? .nan, r.values[key] ?? .nan, accuracy: 1e-5, "\(key) at \(r.examples)")
            }
        }
        let samples = try String(contentsOf: live.appendingPathComponent("samples.jsonl"), encoding: .utf8)
        XCTAssertTrue(samples.contains("\"model\":\"policy\"") && samples.contains("\"model\":\"reference\""), samples)
    }

    func testBadLoRASettingsAreOneErrorBeforeTheRunDirectory() throws {
        for (extra, message) in [
            (["lora.r=4", "lora.target_modules=[q_proj]"],
             "error: lora.target_modules: q_proj is not a linear module of this model; its linear modules are dense, dense_4h_to_h, dense_h_to_4h, query_key_value (or all-linear)"),
            (["lora.r=-1"], "lora.r"),
            (["lora.r=4", "trainer=TensorParallelTrainer"], "error: lora.r=4 runs under BasicTrainer or FSDPTrainer; TensorParallelTrainer does not split adapters"),
        ] {
            let run = tempRun("lora-bad")
            let r = try dpohost(args(run, extra))
            XCTAssertEqual(r.status, 1, r.output)
            XCTAssertTrue(r.output.contains(message), "\(extra): \(r.output)")
            XCTAssertEqual(r.output.split(separator: "\n").filter { $0.hasPrefix("error:") }.count, 1, r.output)
            XCTAssertFalse(FileManager.default.fileExists(atPath: run.path))
        }
    }

    func testSFTWithLoRAThenDPOStartsBothModelsFromTheMergedAdapter() throws {
        let sft = tempRun("lora-sft"), dpo = tempRun("lora-dpo")
        let a = try dpohost(args(sft, ["lora.r=4", "lr=5e-2"]).filter { $0 != "loss=dpo" && $0 != "loss.beta=0.1" } + ["loss=sft"])
        XCTAssertEqual(a.status, 0, a.output)
        let b = try dpohost(args(dpo, ["lora.r=4", "model.archive=\(sft.appendingPathComponent("LATEST").path)"]))
        XCTAssertEqual(b.status, 0, b.output)
        XCTAssertTrue(b.output.contains("with its LoRA adapter merged into the policy"), b.output)
        // Policy and reference both start from the adapted SFT model: the first loss is ln 2.
        XCTAssertEqual(try firstTrainRecord(dpo)["loss/train"]!, log(2), accuracy: 1e-6)
        // ... and it is not the base model: its log-probs differ from a run from the base.
        let base = tempRun("lora-base")
        XCTAssertEqual(try dpohost(args(base, ["lora.r=4"])).status, 0)
        XCTAssertNotEqual(try firstTrainRecord(dpo)["logps_train/chosen"]!, try firstTrainRecord(base)["logps_train/chosen"]!)
    }

    func testExportMergeWritesTheAdaptedModelAndPlainExportRefusesToDropTheAdapter() throws {
        let run = tempRun("lora-export")
        XCTAssertEqual(try dpohost(args(run, ["lora.r=4", "lr=5e-2"])).status, 0)
        let refused = try dpohost(["export", run.path, tempRun("plain").path])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("holds a LoRA adapter (adapter_config.json): export --merge"), refused.output)
        let out = tempRun("merged")
        let merged = try dpohost(["export", run.path, out.path, "--merge"])
        XCTAssertEqual(merged.status, 0, merged.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_config.json").path))
    }

    func testAMergedExportLoadsInTransformersAndGivesPEFTsLogitsOfTheAdaptedModel() throws {
        // A saved module too, so the merge writes its trained copy.
        let run = tempRun("lora-export-py"), out = tempRun("merged-py")
        XCTAssertEqual(try dpohost(args(run, ["lora.r=4", "lr=5e-2", "lora.target_modules=all-linear", "lora.modules_to_save=[lm_head]"])).status, 0)
        XCTAssertEqual(try dpohost(["export", run.path, out.path, "--merge"]).status, 0)
        let script = """
        import sys, torch, transformers, peft
        base = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[1])
        adapted = peft.PeftModel.from_pretrained(base, sys.argv[2]).eval()
        merged = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[3]).eval()
        ids = torch.tensor([[5, 17, 99, 3, 42, 8, 150, 77]])
        with torch.no_grad():
            a = adapted(input_ids=ids).logits
            m = merged(input_ids=ids).logits
            with adapted.disable_adapter():
                plain = adapted(input_ids=ids).logits
        print("RESULT", float((a - m).abs().max()), float((a - plain).abs().max()))
        """
        let r = try python(script, ["Tests/Fixtures/models/pythia-tiny", run.appendingPathComponent("LATEST").path, out.path],
                           modules: ["torch", "transformers", "peft"])
        XCTAssertEqual(r.status, 0, r.output)
        let line = r.output.split(separator: "\n").last { $0.hasPrefix("RESULT ") } ?? ""
        let numbers = line.split(separator: " ").compactMap { Double($0) }
        XCTAssertEqual(numbers.count, 2, r.output)
        XCTAssertLessThanOrEqual(numbers.first ?? .infinity, 1e-4, "the merged model's logits against peft's adapted model")
        XCTAssertGreaterThan(numbers.last ?? 0, 1e-3, "training moved the adapted model away from the base")
    }

    func testAPEFTAdapterFolderAsTheArchiveIsMergedIntoPolicyAndReference() throws {
        let run = tempRun("peft-archive")
        let r = try dpohost(args(run, ["model.archive=Tests/Fixtures/peft/pythia-tiny-r4"]))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("with its LoRA adapter merged into the policy and the reference"), r.output)
        XCTAssertEqual(try firstTrainRecord(run)["loss/train"]!, log(2), accuracy: 1e-6)
    }
}
