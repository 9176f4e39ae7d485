import Training
import XCTest

final class EasyDeLArgumentsTests: XCTestCase {
    func testFlagsBecomeTheEquivalentOverrides() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--loss-type", "ipo", "--beta=0.1", "--dataset-path", "d.jsonl",
                                                       "--max-prompt-length", "256", "--max-completion-length=128", "--sync-ref-model"]),
                       ["loss=[ipo]", "loss.beta=0.1", "datasets=[jsonl]", "dataset_options.jsonl.path=d.jsonl",
                        "max_prompt_length=256", "max_completion_length=128", "sync_ref_model=true", "n_eval_examples=0"])
    }

    func testADatasetWithoutAnEvalSetTurnsEvaluationOffAsInTRL() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--dataset-path", "d.jsonl", "--eval-dataset-path", "e.jsonl"]),
                       ["datasets=[jsonl]", "dataset_options.jsonl.path=d.jsonl", "dataset_options.jsonl.test_path=e.jsonl"])
        XCTAssertEqual(try EasyDeLArguments.translate(["--dataset-path", "d.jsonl", "dataset_options.jsonl.test_path=e.jsonl"]),
                       ["datasets=[jsonl]", "dataset_options.jsonl.path=d.jsonl", "dataset_options.jsonl.test_path=e.jsonl"])
        XCTAssertEqual(try EasyDeLArguments.translate(["--dataset-path=d.jsonl"]).last, "n_eval_examples=0")
    }

    func testSeveralLossTypesAndWeights() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--loss-type", "dpo,sft", "--loss-weights", "1.0,0.2"]),
                       ["loss=[dpo,sft]", "loss.weights=[1.0,0.2]"])
    }

    func testHydraOverridesPassThroughAfterTheFlagsSoTheyWin() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["lr=1e-5", "--learning-rate", "1e-6", "--config", "f.yaml"]),
                       ["lr=1e-6", "lr=1e-5", "--config", "f.yaml"])
    }

    func testTRLLossTypeNamesMapToDpohostsLosses() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--loss-type", "sigmoid,aot_unpaired"]), ["loss=[dpo,aot_pair]"])
    }

    func testTRLsReportToNamesTheDestinationsAfterMetricsJSONL() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--report-to", "tensorboard"]), ["report_to=[jsonl,tensorboard]"])
        XCTAssertEqual(try EasyDeLArguments.translate(["--report-to", "none"]), ["report_to=[jsonl]"])
        XCTAssertEqual(try EasyDeLArguments.translate(["--report-to", "all"]), ["report_to=[jsonl,tensorboard,mlflow]"])
        XCTAssertEqual(try EasyDeLArguments.translate(["--report-to", "tensorboard,mlflow"]), ["report_to=[jsonl,tensorboard,mlflow]"])
    }

    func testAReportDestinationDpohostLacksIsAnErrorListingTheOnesItHas() {
        guard case let .invalidValue(key, value, reason)? = loadError(required + ["report_to=[jsonl,wandb]"]) else {
            return XCTFail("expected an invalid value")
        }
        XCTAssertEqual([key, value, reason], ["report_to", "wandb", "expected jsonl, tensorboard, mlflow"])
    }

    func testTRLsModelFlagKeepsTheReferenceInThePolicysDtypeUnlessSetAfter() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--model-name-or-path", "/m"]),
                       ["model.name_or_path=/m", "model.reference_dtype=float32"])
        XCTAssertEqual(try EasyDeLArguments.translate(["--model-name-or-path", "/m", "model.reference_dtype=bfloat16"]),
                       ["model.name_or_path=/m", "model.reference_dtype=float32", "model.reference_dtype=bfloat16"])
    }

    func testRefModelNamesTheReferencesOwnCheckpoint() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--ref-model", "/models/ref"]), ["model.reference_name_or_path=/models/ref"])
        XCTAssertEqual(try load(required + ["model.reference_name_or_path=/models/ref"]).config.model.referenceNameOrPath, "/models/ref")
        XCTAssertNil(try load(required).config.model.referenceNameOrPath)
    }

    func testSchedulerFlagsAndAWarmupBelowOneAsTransformersReadsIt() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--lr-scheduler-type", "cosine", "--warmup-steps", "0.1"]),
                       ["lr_scheduler_type=cosine", "warmup_ratio=0.1"])
        XCTAssertEqual(try EasyDeLArguments.translate(["--warmup-steps", "10", "--warmup-ratio", "0.2"]),
                       ["warmup_steps=10", "warmup_ratio=0.2"])
    }

    func testAnUnknownSchedulerIsAnErrorListingTheKnownOnes() {
        guard case let .invalidValue(key, value, _)? = loadError(required + ["lr_scheduler_type=polynomial"]) else {
            return XCTFail("expected an invalid value")
        }
        XCTAssertEqual([key, value], ["lr_scheduler_type", "polynomial"])
    }

    func testTRLStepCountsBecomeExamplesOfTheBatch() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--max-steps", "5", "--eval-steps", "2", "--logging-steps", "1", "--save-steps", "3"]),
                       ["max_steps=5", "eval_steps=2", "logging_steps=1", "save_steps=3"])
        let c = try load(required + ["batch_size=4", "n_epochs=2", "max_steps=5", "eval_steps=2", "logging_steps=1", "save_steps=3"]).config
        XCTAssertEqual(c.nExamples, 20)
        XCTAssertNil(c.nEpochs)  // max_steps wins over epochs, as in TRL
        XCTAssertEqual(c.evalEvery, 8)
        XCTAssertEqual(c.loggingSteps, 1)
        XCTAssertEqual(c.saveSteps, 3)
    }

    func testPerDeviceBatchSizesMeanWhatTheyMeanInTRL() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--per-device-train-batch-size", "2", "--per-device-eval-batch-size", "3"]),
                       ["per_device_train_batch_size=2", "per_device_eval_batch_size=3"])
        let arguments = required + ["per_device_train_batch_size=2", "gradient_accumulation_steps=4", "per_device_eval_batch_size=3"]
        let one = try load(arguments)
        XCTAssertEqual([one.config.batchSize, one.config.evalBatchSize], [8, 3])
        // Under mpirun -np 2 a step covers both processes, as TRL's does.
        let two = try loader(environment: pinnedEnvironment()).load(arguments: arguments, worldSize: 2)
        XCTAssertEqual([two.config.batchSize, two.config.evalBatchSize], [16, 6])
        XCTAssertTrue(two.effectiveYAML().contains("\nbatch_size: 16\n"), two.effectiveYAML())
        // Without them batch_size is the whole step, as in the DPO reference.
        XCTAssertEqual(try loader(environment: pinnedEnvironment()).load(arguments: required + ["batch_size=8"], worldSize: 2).config.batchSize, 8)
    }

    func testWholeEpochsAreNEpochsAndAFractionIsTRLsNumTrainEpochs() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--num-train-epochs", "2"]), ["n_epochs=2"])
        XCTAssertEqual(try EasyDeLArguments.translate(["--num-train-epochs", "0.5"]), ["num_train_epochs=0.5"])
        let c = try load(required + ["num_train_epochs=0.5"]).config
        XCTAssertEqual(c.numTrainEpochs, 0.5)
        XCTAssertNil(c.nEpochs)
        XCTAssertNil(try load(required + ["num_train_epochs=0.5", "max_steps=3"]).config.numTrainEpochs)  // max_steps wins
    }

    func testAStepCountWhoseExamplesOverflowIsRefused() {
        guard case let .invalidValue(key, _, reason)? = loadError(required + ["batch_size=4", "max_steps=\(Int.max / 2)"]) else {
            return XCTFail("expected an invalid value")
        }
        XCTAssertEqual(key, "max_steps")
        XCTAssertTrue(reason.contains("past what an Int holds"), reason)
    }

    func testATRLFlagDpohostLacksIsNamedAsUnsupportedWithTheReason() {
        XCTAssertThrowsError(try EasyDeLArguments.translate(["--bf16"])) {
            XCTAssertTrue("\($0)".hasPrefix("--bf16 is a TRL flag dpohost does not support: the policy trains in float32"), "\($0)")
        }
        XCTAssertEqual(try EasyDeLArguments.translate(["--max-grad-norm", "1.0", "--gradient-checkpointing"]),
                       ["max_grad_norm=1.0", "activation_checkpointing=true"])
    }

    func testUnknownFlagSuggestsTheNearest() {
        XCTAssertThrowsError(try EasyDeLArguments.translate(["--los-type", "dpo"])) {
            XCTAssertTrue(String(describing: $0).contains("--loss-type"), String(describing: $0))
        }
    }

    func testFlagWithoutItsValueIsAnError() {
        XCTAssertThrowsError(try EasyDeLArguments.translate(["--beta"]))
    }
}
