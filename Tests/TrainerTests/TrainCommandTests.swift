import Foundation
import Reporting
import TensorCore
import TestSupport
import Training
import XCTest

/// SFT then DPO through the real CLI on the fixture models and HH sample data: run directory,
/// checkpoints that reload, resume after a kill with identical losses.
final class TrainCommandTests: XCTestCase, CLIRunning {
    func testSFTThenDPOWritesRunDirectoriesAndReloadableCheckpoints() throws {
        let sft = tempRun("sft"), dpo = tempRun("dpo")
        let a = try dpohost(["train"] + common(sft) + ["loss=sft", "n_examples=8"])
        XCTAssertEqual(a.status, 0, a.output)
        for f in ["config.yaml", "metrics.jsonl", "LATEST/policy.safetensors", "LATEST/optimizer.safetensors",
                  "LATEST/trainer_state.json", "LATEST/config.json", "LATEST/tokenizer.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: sft.appendingPathComponent(f).path), f)
        }
        XCTAssertTrue(try String(contentsOf: sft.appendingPathComponent("config.yaml"), encoding: .utf8).contains("name: sft"))
        let b = try dpohost(["train"] + common(dpo) + ["loss=dpo", "loss.beta=0.1", "n_examples=8",
                                                       "model.archive=\(sft.appendingPathComponent("LATEST").path)"])
        XCTAssertEqual(b.status, 0, b.output)
        let records = try MetricsLog.read(dpo.appendingPathComponent("metrics.jsonl"))
        let firstEval = try XCTUnwrap(records.first { $0.split == "eval" })
        // Policy and reference both start from the SFT archive: zero margins, ties are misses.
        XCTAssertEqual(firstEval.values["rewards_eval/margins"] ?? .nan, 0, accuracy: 1e-6)
        XCTAssertEqual(firstEval.values["rewards_eval/accuracies"], 0)
        XCTAssertNotNil(records.last { $0.split == "train" }?.values["rewards_train/accuracies"])
        // The checkpoint is a model directory: export and generate take it.
        let export = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-export-\(UUID())")
        let c = try dpohost(["export", dpo.path, export.path])
        XCTAssertEqual(c.status, 0, c.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: export.appendingPathComponent("model.safetensors").path))
        let report = try dpohost(["report", dpo.path])
        XCTAssertEqual(report.status, 0, report.output)
        XCTAssertTrue(try String(contentsOf: dpo.appendingPathComponent("report.html"), encoding: .utf8).contains("Reward accuracy"))
        // Both runs on one page, with the settings in which they differ.
        let both = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-both-\(UUID()).html")
        let two = try dpohost(["report", sft.path, dpo.path, "--output", both.path])
        XCTAssertEqual(two.status, 0, two.output)
        let page = try String(contentsOf: both, encoding: .utf8)
        XCTAssertTrue(page.contains("<tr><td>loss.name</td><td>sft</td><td>dpo</td></tr>"), page)
        XCTAssertTrue(page.contains(#"{"name":"sft","series":"#) && page.contains(#"{"name":"dpo","series":"#))
    }

    /// `args` run whole into `straight`, and into `killed` killed as soon as its first periodic
    /// checkpoint (step-8) is complete, then resumed there.
    func trainStraightAndKilledThenResumed(straight: URL, killed: URL, _ args: [String]) throws {
        let a = try dpohost(["train"] + common(straight) + args)
        XCTAssertEqual(a.status, 0, a.output)
        let k = try dpohost(["train"] + common(killed) + args, killWhen: { dir in
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("step-8/trainer_state.json").path)
        }, watch: killed)
        XCTAssertNotEqual(k.status, 0, "the run should have been killed")
        let r = try dpohost(["train"] + common(killed) + args + ["resume=\(killed.path)"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("resumed from"), r.output)
    }

    func testResumeAfterAKillContinuesWithIdenticalLosses() throws {
        let straight = tempRun("straight"), killed = tempRun("killed")
        let args = ["loss=dpo", "loss.beta=0.1", "n_examples=24"]
        try trainStraightAndKilledThenResumed(straight: straight, killed: killed, args)
        let expected = try trainLosses(straight), got = try trainLosses(killed)
        XCTAssertEqual(Set(expected.keys), [4, 8, 12, 16, 20, 24])
        for (step, loss) in expected {
            XCTAssertEqual(got[step] ?? .nan, loss, accuracy: 1e-6, "loss after \(step) examples")
        }
    }

    /// Tests/Fixtures/checkpoints/README.md: a DPO run an earlier build checkpointed at 8 of 24
    /// examples, resumed here; what that build gave when the run went on uninterrupted.
    struct EarlierBuildResume {
        static let fixture = CLIHarness.repo.appendingPathComponent("Tests/Fixtures/checkpoints/dpo-step-8-of-24")
        let run: URL
        let output: String

        /// Every record's values by "split examples" (throughput left out: it is a timing).
        static func values(_ metrics: URL) throws -> [String: [String: Double]] {
            var out: [String: [String: Double]] = [:]
            for record in try MetricsLog.read(metrics) {
                out["\(record.split) \(record.examples)"] = record.values.filter { !$0.key.hasSuffix("per_second") }
            }
            return out
        }

        var resumed: [String: [String: Double]] { get throws { try Self.values(run.appendingPathComponent("metrics.jsonl")) } }
        static var uninterrupted: [String: [String: Double]] {
            get throws { try values(fixture.appendingPathComponent("uninterrupted-metrics.jsonl")) }
        }
        /// The matrix-product and row-kernel lines the writing build printed (`train` prints its own).
        static var writersKernels: [String] {
            get throws {
                try String(contentsOf: fixture.appendingPathComponent("written-with.txt"), encoding: .utf8)
                    .split(separator: "\n").map(String.init)
            }
        }
    }

    func resumeEarlierBuildsCheckpoint(_ name: String) throws -> EarlierBuildResume {
        let run = tempRun(name)
        try FileManager.default.createDirectory(at: run.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: EarlierBuildResume.fixture.appendingPathComponent("run"), to: run)
        let r = try dpohost(["train"] + common(run) + ["loss=dpo", "loss.beta=0.1", "n_examples=24", "resume=\(run.path)"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("resumed from"), r.output)
        // That build ran each shared prompt as a forward of its own: the resume does too, and says so.
        XCTAssertTrue(r.output.contains("resuming with each shared prompt as a forward of its own, as step-8 was computed"), r.output)
        return EarlierBuildResume(run: run, output: r.output)
    }

    func testACheckpointRecordsThatItsPromptsRanPackedAndItsResumeKeepsPackingThem() throws {
        let run = tempRun("packed-prompts")
        let first = try dpohost(["train"] + common(run) + ["loss=dpo", "loss.beta=0.1", "n_examples=8"])
        XCTAssertEqual(first.status, 0, first.output)
        let state = { try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: run.appendingPathComponent("LATEST/trainer_state.json"))) }
        XCTAssertEqual(try state().packedPrompts, true)
        let resumed = try dpohost(["train"] + common(run) + ["loss=dpo", "loss.beta=0.1", "n_examples=12", "resume=\(run.path)"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertFalse(resumed.output.contains("shared prompt as a forward of its own"), resumed.output)
        XCTAssertEqual(try state().packedPrompts, true)
    }

    func testACheckpointWrittenByAnEarlierBuildResumesToTheSameRunUpToRounding() throws {
        let resumed = try resumeEarlierBuildsCheckpoint("earlier-build").resumed
        let expected = try EarlierBuildResume.uninterrupted
        XCTAssertEqual(expected.count, 9)
        XCTAssertEqual(Set(resumed.keys), Set(expected.keys))
        // Another matrix-product library or kernel rounds differently (about 1e-6 here).
        for (record, values) in expected {
            XCTAssertEqual(Set((resumed[record] ?? [:]).keys), Set(values.keys), record)
            for (key, value) in values {
                XCTAssertEqual(resumed[record]?[key] ?? .nan, value, accuracy: 1e-5 * max(1, abs(value)), "\(record) \(key)")
            }
        }
    }

    func testACheckpointWrittenByAnEarlierBuildResumesBitForBitWhereItsKernelsRunAsTheyDid() throws {
        try XCTSkipIf(ProcessInfo.processInfo.environment[AttentionKernel.environmentVariable] != nil,
                      "\(AttentionKernel.environmentVariable) forces an attention method; the fixture's run chose by length")
        let resume = try resumeEarlierBuildsCheckpoint("earlier-build-exact")
        let writers = try EarlierBuildResume.writersKernels
        try XCTSkipUnless(writers.allSatisfy(resume.output.contains),
                          "the fixture's kernels were '\(writers.joined(separator: "; "))'; this machine's differ")
        XCTAssertEqual(try resume.resumed, try EarlierBuildResume.uninterrupted)
        let digest = try ProcessRunner.run("/usr/bin/sha256sum", [resume.run.appendingPathComponent("step-24/policy.safetensors").path])
        XCTAssertEqual(digest.stdout.prefix(64),
                       try String(contentsOf: EarlierBuildResume.fixture.appendingPathComponent("uninterrupted-policy.sha256"),
                                  encoding: .utf8).prefix(64))
    }

    func testAResumedRunContinuesItsCosineScheduleExactly() throws {
        let straight = tempRun("cosine"), killed = tempRun("cosine-killed")
        // 6 updates of 4 examples; warmup ceil(0.25 * 6) = 2 of them.
        let args = ["loss=sft", "n_examples=24", "lr_scheduler_type=cosine", "warmup_ratio=0.25"]
        try trainStraightAndKilledThenResumed(straight: straight, killed: killed, args)
        func rates(_ run: URL) throws -> [Int: Double] {
            var out: [Int: Double] = [:]
            for record in try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")) where record.split == "train" {
                out[record.examples] = record.values["learning_rate"]
            }
            return out
        }
        let schedule = LearningRateSchedule(kind: .cosine, baseLearningRate: 1e-4, warmupSteps: 2, totalSteps: 6)
        let expected = Dictionary(uniqueKeysWithValues: (0..<6).map { (4 * ($0 + 1), Double(schedule.learningRate(completedSteps: $0))) })
        XCTAssertEqual(try rates(straight), expected)
        XCTAssertEqual(try rates(killed), expected)
    }

    func testTRLStepCountsSetTheLengthTheLogsTheEvaluationsAndTheCheckpoints() throws {
        let run = tempRun("steps")
        let r = try dpohost(["train"] + common(run) + ["loss=sft", "n_epochs=1", "--max-steps", "5", "--logging-steps", "2",
                                                       "--eval-steps", "4", "--save-steps", "3"])
        XCTAssertEqual(r.status, 0, r.output)
        let records = try MetricsLog.read(run.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(records.map { "\($0.split) \($0.examples)" }, ["eval 0", "train 8", "train 16", "eval 16"])
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("step-") }.sorted()
        XCTAssertEqual(checkpoints, ["step-12", "step-20"])  // every 3 updates, and the end
    }

    func testAFractionOfAnEpochTrainsThatShareOfTheBatchesRoundedUp() throws {
        func trained(_ args: [String]) throws -> Int {
            let r = try dpohost(["train"] + common(tempRun("epochs")) + ["loss=sft"] + args)
            XCTAssertEqual(r.status, 0, r.output)
            let line = try XCTUnwrap(r.output.split(separator: "\n").first { $0.hasPrefix("done: ") })
            return try XCTUnwrap(Int(line.dropFirst(6).prefix { $0.isNumber }))
        }
        let epoch = try trained(["n_epochs=1"])
        XCTAssertEqual(try trained(["--num-train-epochs", "0.5"]), Int((Double(epoch / 4) * 0.5).rounded(.up)) * 4)
        XCTAssertEqual(try trained(["--num-train-epochs", "1.5"]), Int((Double(epoch / 4) * 1.5).rounded(.up)) * 4)
    }

    /// Tokens per second count the batch's unpadded tokens, both responses of a pair with their
    /// prompts: between two and `2 * max_length` per example.
    func testATrainRecordGivesTokensPerSecondBesideExamples() throws {
        let run = tempRun("tokens")
        let r = try dpohost(["train"] + common(run) + ["loss=dpo", "loss.beta=0.1", "n_examples=4"])
        XCTAssertEqual(r.status, 0, r.output)
        let train = try XCTUnwrap(MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).first { $0.split == "train" }).values
        let tokens = try XCTUnwrap(train["tokens_per_second"]), examples = try XCTUnwrap(train["examples_per_second"])
        XCTAssertGreaterThan(examples, 0)
        XCTAssertGreaterThan(tokens / examples, 2)
        XCTAssertLessThanOrEqual(tokens / examples, 2 * 128)
    }

    func testASeparateReferenceModelIsWhatTheRewardsAreMeasuredAgainst() throws {
        let own = tempRun("own-reference"), same = tempRun("reference-as-policy")
        let reference = "Tests/Fixtures/models/pythia-tiny-ref"
        let args = ["loss=dpo", "loss.beta=0.1", "n_examples=4"]
        let a = try dpohost(["train"] + common(own) + args + ["model.reference_name_or_path=\(reference)"])
        XCTAssertEqual(a.status, 0, a.output)
        XCTAssertTrue(a.output.contains("reference model: \(reference)"), a.output)
        let b = try dpohost(["train"] + common(same) + args + ["model.name_or_path=\(reference)",
                                                              "model.reference_name_or_path=\(reference)"])
        XCTAssertEqual(b.status, 0, b.output)
        func firstEval(_ run: URL) throws -> [String: Double] {
            try XCTUnwrap(MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).first { $0.split == "eval" }).values
        }
        let withOwn = try firstEval(own), asPolicy = try firstEval(same)
        // rewards = beta (policy - reference): the reference's log-probs are those pythia-tiny-ref
        // gives as a policy, and they are not the policy's own.
        for side in ["chosen", "rejected"] {
            let policy = try XCTUnwrap(withOwn["logps_eval/\(side)"]), reward = try XCTUnwrap(withOwn["rewards_eval/\(side)"])
            XCTAssertEqual(policy - reward / 0.1, try XCTUnwrap(asPolicy["logps_eval/\(side)"]), accuracy: 1e-3 * abs(policy))
            XCTAssertGreaterThan(abs(reward), 1e-3)
            XCTAssertEqual(try XCTUnwrap(asPolicy["rewards_eval/\(side)"]), 0, accuracy: 1e-6)
        }
    }

    func testResumeUsesTheNewestCompleteCheckpointEvenWithoutTheLatestLink() throws {
        // A kill between a checkpoint's rename and the LATEST update leaves step-N without LATEST.
        let straight = tempRun("straight2"), cut = tempRun("cut")
        let args = ["loss=sft", "n_examples=16", "eval_every=8"]
        XCTAssertEqual(try dpohost(["train"] + common(straight) + args).status, 0)
        let first = try dpohost(["train"] + common(cut) + ["loss=sft", "n_examples=8", "eval_every=8"])
        XCTAssertEqual(first.status, 0, first.output)
        try FileManager.default.removeItem(at: cut.appendingPathComponent("LATEST"))
        let r = try dpohost(["train"] + common(cut) + args + ["resume=\(cut.path)"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("step-8 at 8 examples"), r.output)
        XCTAssertEqual(try trainLosses(cut)[16] ?? .nan, try trainLosses(straight)[16] ?? 0, accuracy: 1e-6)
    }

    func testResumeRewindsTheLogsToItsCheckpointAndRemovesHalfWrittenCheckpoints() throws {
        let run = tempRun("rewind")
        let first = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=8", "eval_every=8"])
        XCTAssertEqual(first.status, 0, first.output)
        // What a kill after the step-8 checkpoint leaves: a line logged after it, a half line, and
        // the folder of the next checkpoint, half written.
        let metrics = run.appendingPathComponent("metrics.jsonl")
        let handle = try FileHandle(forWritingTo: metrics)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((#"{"examples":12,"split":"train","values":{"loss\/train":999}}"# + "\n{\"examples\":1").utf8))
        try handle.close()
        let partial = run.appendingPathComponent(".step-16.partial-deadbeef")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try Data(count: 1024).write(to: partial.appendingPathComponent("policy.safetensors"))

        let r = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=16", "eval_every=8", "resume=\(run.path)"])
        XCTAssertEqual(r.status, 0, r.output)
        let records = try MetricsLog.read(metrics)
        let keys = records.map { "\($0.split) \($0.examples)" }
        XCTAssertEqual(keys, ["eval 0", "train 4", "train 8", "train 12", "train 16"], "\(keys)")
        XCTAssertFalse(records.contains { $0.values["loss/train"] == 999 })
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path))
        XCTAssertEqual(try dpohost(["report", run.path]).status, 0)
    }

    func testReportToTensorBoardAndMLflowWritesOneEventFileAndOneRunThatAResumeContinues() throws {
        let run = tempRun("tensorboard")
        let store = run.deletingLastPathComponent().appendingPathComponent("mlruns")
        let args = ["train"] + common(run) + ["loss=sft", "eval_every=8", "report_to=[jsonl,tensorboard,mlflow]"]
        let environment = ["MLFLOW_TRACKING_URI": store.absoluteString]
        let first = try dpohost(args + ["n_examples=8"], environment: environment)
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("  last eval:       loss "), first.output)  // the eval at 0 examples
        let r = try dpohost(args + ["n_examples=16", "resume=\(run.path)"], environment: environment)
        XCTAssertEqual(r.status, 0, r.output)
        // The closing summary: what was done, the last metrics and how to open each view.
        for line in ["done: 16 examples, 4 updates; 8 trained in ", "  last train step: loss ",
                     "run directory: \(run.path)", "  report:      dpohost report \(run.path)",
                     "  tensorboard: tensorboard --logdir \(run.path)",
                     "  mlflow:      MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri \(store.path)"] {
            XCTAssertTrue(r.output.contains(line), "missing '\(line)' in\n\(r.output.suffix(600))")
        }
        // One MLflow run (kept across the resume), finished, with one line per logged step.
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("mlflow.json"))) as? [String: String]
        let runFolder = store.appendingPathComponent("\(record?["experimentID"] ?? "")/\(record?["runID"] ?? "")")
        XCTAssertTrue(try String(contentsOf: runFolder.appendingPathComponent("meta.yaml"), encoding: .utf8).contains("status: 3"))
        let trainLines = try String(contentsOf: runFolder.appendingPathComponent("metrics/loss/train"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: " ")[2] }
        XCTAssertEqual(trainLines, ["4", "8", "12", "16"])
        let files = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(files.count, 1, "\(files)")
        // The file version, the hyper-parameters, then one event per metrics.jsonl line.
        let events = try Data(contentsOf: run.appendingPathComponent(files[0]))
        var count = 0, offset = 0
        while offset + 12 <= events.count {
            let length = events[offset..<(offset + 8)].reversed().reduce(0) { $0 << 8 | Int($1) }
            offset += 12 + length + 4
            count += 1
        }
        XCTAssertEqual(offset, events.count)
        XCTAssertEqual(count, 2 + (try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).count))
    }

    func testReferenceCommandLineRunsWithLocalPaths() throws {
        // The DPO reference README's SFT command, with a local model and data (and BasicTrainer,
        // since FSDP needs the distributed build) and a short run.
        let run = tempRun("reference")
        let r = try dpohost(["train", "model=pythia28", "datasets=[hh]", "loss=sft", "exp_name=anthropic_dpo_pythia28",
                             "gradient_accumulation_steps=2", "batch_size=4", "eval_batch_size=4", "trainer=BasicTrainer",
                             "sample_during_eval=false", "model.name_or_path=Tests/Fixtures/models/pythia-tiny",
                             "dataset_options.hh.data_dir=Tests/Fixtures/data/hh", "n_examples=8", "n_eval_examples=4",
                             "local_run_dir=\(run.path)", "progress=off", "threads=1"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("LATEST/policy.safetensors").path))
    }

    func testNonFiniteLossStopsTheRunAndKeepsTheLastGoodCheckpoint() throws {
        let run = tempRun("nan")
        let good = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=8", "eval_every=4"])
        XCTAssertEqual(good.status, 0, good.output)
        let latest = run.appendingPathComponent("LATEST/policy.safetensors")
        let before = try Data(contentsOf: latest)
        // An absurd learning rate blows the weights up after one more update.
        let bad = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=24", "eval_every=4", "lr=1e30",
                                                         "resume=\(run.path)"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.output.contains("non-finite"), bad.output)
        XCTAssertTrue(bad.output.contains("the last complete checkpoint (step-8) is kept"), bad.output)
        XCTAssertEqual(try Data(contentsOf: latest), before, "LATEST still holds the last good weights")
        XCTAssertEqual(run.appendingPathComponent("LATEST").resolvingSymlinksInPath().lastPathComponent, "step-8")
    }

    func testANonFiniteLossBeforeAnyCheckpointSaysNoneWasWritten() throws {
        let run = tempRun("nan-first")
        let bad = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=24", "eval_every=16", "lr=1e30"])
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.output.contains("non-finite"), bad.output)
        XCTAssertTrue(bad.output.contains("no checkpoint had been written yet"), bad.output)
        XCTAssertFalse(bad.output.contains("is kept"), bad.output)
    }

    func testFewerPairsThanOneBatchIsAnErrorNotARunWithoutSteps() throws {
        let run = tempRun("short")
        let r = try dpohost(["train"] + common(run) + ["loss=dpo", "loss.beta=0.1", "n_epochs=1", "batch_size=64",
                                                       "eval_batch_size=4"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("fewer than one batch (batch_size=64): not one step would run"), r.output)
    }

    func testEveryBuiltInLossTrainsFromItsConfigFile() throws {
        // Each config/loss/<name>.yaml must load into its plugin (keys = options) and run a step.
        for loss in ["sft", "dpo", "cdpo", "ipo", "tdpo"] {
            let run = tempRun(loss)
            let extra = ["dpo", "cdpo", "ipo"].contains(loss) ? ["loss.beta=0.1"] : []
            let r = try dpohost(["train"] + common(run) + ["loss=\(loss)", "n_examples=4", "do_first_eval=false"] + extra)
            XCTAssertEqual(r.status, 0, "\(loss): \(r.output)")
        }
    }

    func testAReferenceFreeLossRunsWithoutAReferenceModel() throws {
        let run = tempRun("simpo")
        let r = try dpohost(["train"] + common(run) + ["loss=simpo", "loss.beta=2", "n_examples=8"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("no reference model: every loss (simpo) is reference-free"), r.output)
        let losses = try trainLosses(run)
        XCTAssertEqual(losses.count, 2, r.output)
        XCTAssertTrue(losses.values.allSatisfy(\.isFinite))
        // A loss that reads the reference brings it back.
        let mixed = try dpohost(["train"] + common(tempRun("simpo-dpo")) + ["loss=[simpo,dpo]", "loss.beta=2", "n_examples=4"])
        XCTAssertEqual(mixed.status, 0, mixed.output)
        XCTAssertFalse(mixed.output.contains("no reference model"), mixed.output)
    }

    func testReferenceSyncWithoutAReferenceIsRefused() throws {
        let r = try dpohost(["train"] + common(tempRun("simpo-sync")) + ["loss=simpo", "loss.beta=2", "n_examples=4", "sync_ref_model=true"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.output.contains("sync_ref_model=true: no loss of simpo reads a reference model"), r.output)
    }

    func testUnknownConfigKeyIsOneClearErrorAndNonZeroExit() throws {
        let r = try dpohost(["train", "model=pythia-tiny", "exp_name=x", "loss=dpo", "loss.bta=0.1"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.output.contains("error: unknown config key 'loss.bta'; did you mean 'loss.beta'?"), r.output)
    }

    func testMalformedDataLineStopsTheRunNamingFileAndLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-bad-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: CLIHarness.repo.appendingPathComponent("Tests/Fixtures/data/bad/hh_no_assistant.jsonl"),
                                         to: dir.appendingPathComponent("train.jsonl"))
        try FileManager.default.copyItem(at: CLIHarness.repo.appendingPathComponent("Tests/Fixtures/data/bad/hh_no_assistant.jsonl"),
                                         to: dir.appendingPathComponent("test.jsonl"))
        let r = try dpohost(["train"] + common(tempRun("bad")) + ["loss=sft", "n_examples=4", "dataset_options.hh.data_dir=\(dir.path)"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.output.contains("train.jsonl:2"), r.output)
        XCTAssertFalse(r.output.contains("run directory:"), "no run directory is made for a run that cannot start")
    }
}

/// A resume must continue the same run: the settings that give its checkpoint meaning are
/// compared with the run directory's config.yaml, and the checkpoint's counters with each other.
final class ResumeRefusalTests: XCTestCase, CLIRunning {
    func finishedRun(_ name: String) throws -> URL {
        let run = tempRun(name)
        let r = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=8", "eval_every=8"])
        XCTAssertEqual(r.status, 0, r.output)
        return run
    }

    func testAChangedBatchSizeIsRefusedNamingBothValues() throws {
        let run = try finishedRun("changed-batch")
        let r = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=16", "eval_every=8", "batch_size=8",
                                                       "resume=\(run.path)"])
        XCTAssertEqual(r.status, 1, r.output)
        let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 1, r.output)
        XCTAssertTrue(errors.first?.contains("invalid value '8' for 'batch_size': the run being resumed used 4") ?? false, r.output)
    }

    func testAChangedLossIsRefused() throws {
        let run = try finishedRun("changed-loss")
        let r = try dpohost(["train"] + common(run) + ["loss=dpo", "loss.beta=0.1", "n_examples=16", "eval_every=8",
                                                       "resume=\(run.path)"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("for 'loss': the run being resumed used"), r.output)
    }

    func testMoreExamplesIsWhatResumingIsFor() throws {
        let run = try finishedRun("extended")
        let r = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=16", "eval_every=8", "lr=2e-4",
                                                       "resume=\(run.path)"])
        XCTAssertEqual(r.status, 0, r.output)
    }

    func testARunWrittenBeforeAKeyExistedResumesAndAChangedReferenceIsRefused() throws {
        let run = try finishedRun("older-config")
        // What an earlier version wrote: no reference_name_or_path key at all.
        let config = run.appendingPathComponent("config.yaml")
        let text = try String(contentsOf: config, encoding: .utf8)
        try text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("reference_name_or_path") }
            .joined(separator: "\n").write(to: config, atomically: true, encoding: .utf8)
        let resumed = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=16", "eval_every=8", "resume=\(run.path)"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let changed = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=24", "eval_every=8", "resume=\(run.path)",
                                                             "model.reference_name_or_path=Tests/Fixtures/models/pythia-tiny-ref"])
        XCTAssertEqual(changed.status, 1, changed.output)
        XCTAssertTrue(changed.output.contains("for 'model.reference_name_or_path': the run being resumed used null"), changed.output)
    }

    func testACheckpointWhoseCountersContradictItsFolderIsRefused() throws {
        let run = try finishedRun("edited-state")
        let state = run.appendingPathComponent("step-8/trainer_state.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: state)) as? [String: Any])
        json["examples"] = 12
        try JSONSerialization.data(withJSONObject: json).write(to: state)
        let r = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=16", "eval_every=8", "resume=\(run.path)"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("counts 12 examples but sits in step-8"), r.output)
    }
}
