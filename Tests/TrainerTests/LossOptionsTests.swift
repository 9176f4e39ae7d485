import Checkpoint
import Foundation
import Reporting
import TensorCore
import Training
import XCTest

/// The trainer's options for several weighted losses (docs/spec/losses.md §6.2) and TR-DPO
/// reference-model syncing (docs/spec/training.md §13).
final class LossOptionsTests: XCTestCase, CLIRunning {

    func testCombinedLossesReportEachTermAndTheirWeightedSum() throws {
        let run = tempRun("multi")
        let r = try dpohost(["train"] + common(run) + ["loss=[dpo,sft]", "loss.beta=0.1", "loss.weights=[1.0,0.2]",
                                                              "n_examples=8"])
        XCTAssertEqual(r.status, 0, r.output)
        let records = try MetricsLog.read(run.appendingPathComponent("metrics.jsonl"))
        let train = try XCTUnwrap(records.first { $0.split == "train" }).values
        let dpo = try XCTUnwrap(train["dpo/loss/train"]), sft = try XCTUnwrap(train["sft/loss/train"])
        XCTAssertEqual(try XCTUnwrap(train["loss/train"]), dpo + 0.2 * sft, accuracy: 1e-4 * max(1, abs(sft)))
        XCTAssertNotNil(train["rewards_train/accuracies"], "the first loss keeps its own metric names")
        XCTAssertTrue(try String(contentsOf: run.appendingPathComponent("config.yaml"), encoding: .utf8).contains("weights"))
    }

    func testLossWeightsMustMatchTheLosses() throws {
        let r = try dpohost(["train"] + common(tempRun("w")) + ["loss=[dpo,sft]", "loss.beta=0.1", "loss.weights=[1.0]"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.output.contains("loss.weights"), r.output)
    }

    /// The host holds loss options as given; the plugin's declared option types check them.
    func testALossOptionOfTheWrongTypeIsRefusedNamingTheOptionThePluginAndTheValue() throws {
        let r = try dpohost(["train"] + common(tempRun("typed")) + ["loss=dpo", "loss.beta=high", "n_examples=4"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error: option 'beta' of plugin 'dpo' expects a float, got 'high'"), r.output)
    }

    func testReferenceSyncMixesThePolicyIntoTheReference() throws {
        let run = tempRun("sync")
        // One update, then ref <- 0.5 * ref + 0.5 * policy.
        let r = try dpohost(["train"] + common(run) + ["loss=dpo", "loss.beta=0.1", "n_examples=4",
                                                              "sync_ref_model=true", "ref_model_sync_steps=1", "ref_model_mixup_alpha=0.5"])
        XCTAssertEqual(r.status, 0, r.output)
        let start = try ModelDirectory(path: CLIHarness.repo.appendingPathComponent("Tests/Fixtures/models/pythia-tiny").path)
        let latest = run.appendingPathComponent("LATEST")
        let policy = try SafeTensorsFile(path: latest.appendingPathComponent("policy.safetensors").path)
        let reference = try SafeTensorsFile(path: latest.appendingPathComponent("reference.safetensors").path)
        var moved = false
        for name in policy.tensorNames {
            let p = try policy.floatTensor(named: name).scalars, r0 = try start.floatTensor(named: name).scalars
            let r1 = try reference.floatTensor(named: name).scalars
            for i in 0..<p.count {
                XCTAssertEqual(r1[i], 0.5 * r0[i] + 0.5 * p[i], accuracy: 1e-6, name)
                if r1[i] != r0[i] { moved = true }
            }
        }
        XCTAssertTrue(moved, "the reference should have moved toward the policy")
    }
}

final class EasyDeLCommandLineTests: XCTestCase, CLIRunning {
    /// EasyDeL's prompt and completion budgets are the reference tokenization's keys.
    func testEasyDeLStyleCommandTrainsOnAFlatJSONLFile() throws {
        let run = tempRun("easydel")
        let r = try dpohost(["train", "--loss-type", "ipo", "--beta", "0.1", "--dataset-path", "Tests/Fixtures/data/preference.jsonl",
                             "--model-name-or-path", "Tests/Fixtures/models/pythia-tiny", "--learning-rate", "1e-4",
                             "tokenization=reference", "max_prompt_length=48", "max_completion_length=32", "--exp-name", "easydel",
                             "--output-dir", run.path, "--total-batch-size", "4", "n_examples=8", "eval_batch_size=4",
                             "n_eval_examples=4", "dataset_options.jsonl.test_path=Tests/Fixtures/data/preference.jsonl",
                             "sample_during_eval=false", "progress=off", "threads=1"])
        XCTAssertEqual(r.status, 0, r.output)
        let yaml = try String(contentsOf: run.appendingPathComponent("config.yaml"), encoding: .utf8)
        XCTAssertTrue(yaml.contains("max_completion_length: 32"), yaml)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("LATEST/policy.safetensors").path))
    }

    func testATRLCommandWithOnlyATrainingFileTrainsWithoutEvaluating() throws {
        let run = tempRun("trl-no-eval")
        let r = try dpohost(["train", "--loss-type", "sigmoid", "--beta", "0.1", "--dataset-path", "Tests/Fixtures/data/preference.jsonl",
                             "--model-name-or-path", "Tests/Fixtures/models/pythia-tiny", "--output-dir", run.path,
                             "--per-device-train-batch-size", "4", "--max-steps", "2", "--logging-steps", "1", "exp_name=trl",
                             "progress=off", "threads=1"])
        XCTAssertEqual(r.status, 0, r.output)
        let records = try MetricsLog.read(run.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(records.map { "\($0.split) \($0.examples)" }, ["train 4", "train 8"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("step-8/policy.safetensors").path))
    }

    func testUnderTRLsFlagsTheReferenceKeepsThePolicysDtypeSoTheFirstLossIsLn2() throws {
        let run = tempRun("trl-dtype")
        let r = try dpohost(["train", "--loss-type", "sigmoid", "--beta", "0.1", "--dataset-path", "Tests/Fixtures/data/preference.jsonl",
                             "--model-name-or-path", "Tests/Fixtures/models/pythia-tiny", "--output-dir", run.path,
                             "--total-batch-size", "4", "n_examples=4", "eval_batch_size=4", "n_eval_examples=8",
                             "dataset_options.jsonl.test_path=Tests/Fixtures/data/preference.jsonl", "exp_name=trl",
                             "sample_during_eval=false", "progress=off", "threads=1"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(try String(contentsOf: run.appendingPathComponent("config.yaml"), encoding: .utf8).contains("reference_dtype: float32"))
        let first = try XCTUnwrap(MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).first { $0.split == "eval" })
        XCTAssertEqual(try XCTUnwrap(first.values["loss/eval"]), log(2), accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(first.values["rewards_eval/margins"]), 0, accuracy: 1e-7)
    }
}

final class PrecomputedReferenceTests: XCTestCase, CLIRunning {
    func testCachedReferenceLogProbsGiveTheSameLossesAsRunningTheReference() throws {
        let live = tempRun("live"), cached = tempRun("cached")
        let args = ["loss=dpo", "loss.beta=0.1", "n_examples=12"]
        let a = try dpohost(["train"] + common(live) + args)
        XCTAssertEqual(a.status, 0, a.output)
        let b = try dpohost(["train"] + common(cached) + args + ["precompute_ref_log_probs=true"])
        XCTAssertEqual(b.status, 0, b.output)
        XCTAssertTrue(b.output.contains("reference log-probs cached for"), b.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cached.appendingPathComponent("reference_logps.jsonl").path))
        let expected = try trainLosses(live), got = try trainLosses(cached)
        XCTAssertEqual(Set(got.keys), Set(expected.keys))
        for (step, loss) in expected { XCTAssertEqual(got[step] ?? .nan, loss, accuracy: 1e-4, "after \(step) examples") }
    }

    func testPrecomputedLogProbsWithSharedPromptsAreTheWholeRowsOnes() throws {
        let shared = tempRun("shared"), whole = tempRun("whole")
        let args = ["loss=dpo", "loss.beta=0.1", "n_examples=4", "precompute_ref_log_probs=true"]
        let a = try dpohost(["train"] + common(shared) + args)
        XCTAssertEqual(a.status, 0, a.output)
        let b = try dpohost(["train"] + common(whole) + args + ["share_prompt=false"])
        XCTAssertEqual(b.status, 0, b.output)
        func cached(_ run: URL) throws -> [String: [Double]] {
            let text = try String(contentsOf: run.appendingPathComponent("reference_logps.jsonl"), encoding: .utf8)
            var out: [String: [Double]] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("{\"provenance\"") {
                let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let key = "\(o["prompt"] ?? "")|\(o["chosen"] ?? "")|\(o["rejected"] ?? "")"
                out[key] = [try XCTUnwrap(o["chosen_logp"] as? Double), try XCTUnwrap(o["rejected_logp"] as? Double)]
            }
            return out
        }
        let got = try cached(shared), expected = try cached(whole)
        XCTAssertFalse(expected.isEmpty)
        XCTAssertEqual(Set(got.keys), Set(expected.keys))
        for (key, values) in expected {
            for (g, e) in zip(got[key] ?? [], values) { XCTAssertEqual(g, e, accuracy: 1e-4 * max(1, abs(e)), key) }
        }
    }

    func testPrecomputingIsRefusedForTDPOAndWithReferenceSync() throws {
        let t = try dpohost(["train"] + common(tempRun("t")) + ["loss=tdpo", "n_examples=4", "precompute_ref_log_probs=true"])
        XCTAssertEqual(t.status, 1)
        XCTAssertTrue(t.output.contains("full logits"), t.output)
        let s = try dpohost(["train"] + common(tempRun("s")) + ["loss=dpo", "loss.beta=0.1", "n_examples=4",
                                                               "precompute_ref_log_probs=true", "sync_ref_model=true"])
        XCTAssertEqual(s.status, 1)
        XCTAssertTrue(s.output.contains("sync_ref_model"), s.output)
    }
}
