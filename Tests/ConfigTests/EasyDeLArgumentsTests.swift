import Configuration
import XCTest

final class EasyDeLArgumentsTests: XCTestCase {
    /// The default sigmoid loss as TRL's flags set it when no --loss-type is given.
    static let defaultLoss = ["loss=[dpo]", "+loss.dpo.label_smoothing=0", "loss.beta=0.1"]

    /// The overrides the flags themselves become, after TRL's defaults (and the default loss).
    func flags(_ arguments: [String]) throws -> [String] {
        let all = try EasyDeLArguments.translate(arguments)
        XCTAssertEqual(Array(all.prefix(EasyDeLArguments.trlDefaults.count)), EasyDeLArguments.trlDefaults)
        let rest = Array(all.dropFirst(EasyDeLArguments.trlDefaults.count))
        return rest.starts(with: Self.defaultLoss) ? Array(rest.dropFirst(Self.defaultLoss.count)) : rest
    }

    func testFlagsBecomeTheEquivalentOverrides() throws {
        XCTAssertEqual(try flags(["--loss-type", "ipo", "--beta=0.2", "--dataset-path", "d.jsonl", "--sync-ref-model"]),
                       ["loss=[ipo]", "+loss.ipo.length_normalized=true", "loss.beta=0.2", "datasets=[jsonl]",
                        "dataset_options.jsonl.path=d.jsonl", "sync_ref_model=true", "n_eval_examples=0"])
    }

    func testACommandLineWithoutFlagsKeepsTheReferencesMeaning() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["loss=ipo", "loss.beta=0.1", "--config", "f.yaml"]),
                       ["loss=ipo", "loss.beta=0.1", "--config", "f.yaml"])
    }

    func testUsePEFTIsLoRAWithTRLsDefaultsThatTheLoRAFlagsChange() throws {
        XCTAssertEqual(try flags(["--lora-r", "8", "--use-peft", "--lora-target-modules", "q_proj,v_proj"]),
                       ["lora.r=16", "lora.alpha=32", "lora.dropout=0.05", "lora.r=8", "lora.target_modules=[q_proj,v_proj]"])
        XCTAssertThrowsError(try EasyDeLArguments.translate(["--lora-r", "8"])) {
            XCTAssertTrue("\($0)".contains("takes effect with --use-peft"), "\($0)")
        }
    }

    func testModulesToSaveAndRSLoRAFlagsAreTRLsModelConfigFlags() throws {
        XCTAssertEqual(try flags(["--use-peft", "--lora-modules-to-save", "lm_head,embed_tokens", "--use-rslora"]),
                       ["lora.r=16", "lora.alpha=32", "lora.dropout=0.05", "lora.modules_to_save=[lm_head,embed_tokens]", "lora.use_rslora=true"])
        XCTAssertThrowsError(try EasyDeLArguments.translate(["--use-rslora"])) {
            XCTAssertTrue("\($0)".contains("takes effect with --use-peft"), "\($0)")
        }
    }

    func testTheChatTemplateFlagBringsNoTRLMeanings() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--chat-template", "t.jinja", "loss=sft"]), ["chat_template=t.jinja", "loss=sft"])
    }

    func testAnyTRLFlagBringsTRLsDefaultsFirstSoFlagsAndOverridesWin() throws {
        let all = try EasyDeLArguments.translate(["--learning-rate", "1e-5", "max_length=64"])
        XCTAssertEqual(all, EasyDeLArguments.trlDefaults + Self.defaultLoss + ["lr=1e-5", "max_length=64"])
        for d in ["tokenization=trl", "max_length=1024", "truncation_mode=keep_start", "lr=1e-6", "optimizer=AdamW",
                  "weight_decay=0.0", "lr_scheduler_type=linear", "warmup_steps=0", "max_grad_norm=1.0", "logging_steps=10"] {
            XCTAssertTrue(EasyDeLArguments.trlDefaults.contains(d), d)
        }
    }

    func testEachTRLLossTypeMeansTRLsLoss() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--loss-type", "sigmoid", "--label-smoothing", "0.2"]),
                       EasyDeLArguments.trlDefaults + Self.defaultLoss)  // TRL ignores label smoothing for sigmoid
        XCTAssertEqual(try flags(["--loss-type", "sigmoid_norm"]),
                       ["loss=[dpo]", "+loss.dpo.length_normalized=true", "+loss.dpo.label_smoothing=0", "loss.beta=0.1"])
        XCTAssertEqual(try flags(["--loss-type", "bco_pair"]), ["loss=[bco_pair]", "+loss.bco_pair.delta=zero", "loss.beta=0.1"])
        XCTAssertEqual(try flags(["--loss-type", "exo_pair"]), ["loss=[exo_pair]", "+loss.exo_pair.label_smoothing=0", "loss.beta=0.1"])
        XCTAssertEqual(try flags(["--loss-type", "robust", "--label-smoothing", "0.1"]),
                       ["loss=[robust]", "+loss.robust.label_smoothing=0.1", "loss.beta=0.1"])
        XCTAssertEqual(try flags(["--loss-type", "sigmoid,sft", "--loss-weights", "1.0,0.5"]),
                       ["loss=[dpo,sft]", "+loss.dpo.label_smoothing=0", "+loss.sft.token_mean=true", "loss.beta=0.1",
                        "loss.weights=[1.0,0.5]"])
        XCTAssertEqual(try flags(["--loss-type", "discopop", "--discopop-tau", "0.2"]),
                       ["loss=[discopop]", "+loss.discopop.tau=0.2", "loss.beta=0.1"])
    }

    func testEasyDeLsKTOIsTheSigmoidLossWithItsLabelSmoothing() throws {
        XCTAssertEqual(try flags(["--loss-type", "kto", "--label-smoothing", "0.1"]),
                       ["loss=[dpo]", "+loss.dpo.label_smoothing=0.1", "loss.beta=0.1"])
    }

    func testSeedDrivesTheDataOrderAsInTransformers() throws {
        XCTAssertEqual(try flags(["--seed", "7"]), ["seed=7", "data_seed=7"])
        XCTAssertTrue(EasyDeLArguments.trlDefaults.contains("data_seed=42"))
        XCTAssertEqual(try load(required).config.dataSeed, 0)  // the references' order without the flags
    }

    func testRPOAlphaTurnsTheSigmoidLossIntoRPO() throws {
        XCTAssertEqual(try flags(["--rpo-alpha", "0.5"]),
                       ["loss=[rpo]", "+loss.rpo.alpha=0.5", "+loss.rpo.label_smoothing=0", "loss.beta=0.1"])
        XCTAssertThrowsError(try EasyDeLArguments.translate(["--loss-type", "hinge", "--rpo-alpha", "1"]))
    }

    func testReferenceFreeRunsNoReferenceAsEasyDeLDoes() throws {
        XCTAssertEqual(try flags(["--reference-free"]),
                       ["loss=[dpo]", "+loss.dpo.label_smoothing=0", "+loss.dpo.reference_free=true",
                        "+loss.dpo.reference_rewards=false", "loss.beta=0.1"])
        XCTAssertThrowsError(try EasyDeLArguments.translate(["--loss-type", "ipo", "--reference-free"]))
    }

    func testTwoTRLNamesForOneDpohostLossAreRefused() {
        XCTAssertThrowsError(try EasyDeLArguments.translate(["--loss-type", "sigmoid,sigmoid_norm"])) {
            XCTAssertTrue("\($0)".contains("sigmoid, sigmoid_norm and EasyDeL's kto are all dpo"), "\($0)")
        }
    }

    func testAHydraLossWithTRLFlagsTakesTheirBetaAsASharedOption() throws {
        XCTAssertEqual(try EasyDeLArguments.translate(["--beta", "0.3", "loss=ipo"]),
                       EasyDeLArguments.trlDefaults + ["loss.beta=0.3", "loss=ipo"])
    }

    func testADatasetWithoutAnEvalSetTurnsEvaluationOffAsInTRL() throws {
        XCTAssertEqual(try flags(["--dataset-path", "d.jsonl", "--eval-dataset-path", "e.jsonl"]),
                       ["datasets=[jsonl]", "dataset_options.jsonl.path=d.jsonl", "dataset_options.jsonl.test_path=e.jsonl"])
        XCTAssertEqual(try flags(["--dataset-path", "d.jsonl", "dataset_options.jsonl.test_path=e.jsonl"]),
                       ["datasets=[jsonl]", "dataset_options.jsonl.path=d.jsonl", "dataset_options.jsonl.test_path=e.jsonl"])
        XCTAssertEqual(try flags(["--dataset-path=d.jsonl"]).last, "n_eval_examples=0")
    }

    func testSeveralLossTypesAndWeights() throws {
        XCTAssertEqual(try flags(["--loss-type", "hinge,sft", "--loss-weights", "1.0,0.2"]),
                       ["loss=[hinge,sft]", "+loss.sft.token_mean=true", "loss.beta=0.1", "loss.weights=[1.0,0.2]"])
    }

    func testHydraOverridesPassThroughAfterTheFlagsSoTheyWin() throws {
        XCTAssertEqual(try flags(["lr=1e-5", "--learning-rate", "1e-6", "--config", "f.yaml"]),
                       ["lr=1e-6", "lr=1e-5", "--config", "f.yaml"])
    }

    func testTRLLossTypeNamesMapToDpohostsLosses() throws {
        XCTAssertEqual(try flags(["--loss-type", "sigmoid,aot_unpaired"]),
                       ["loss=[dpo,aot_pair]", "+loss.dpo.label_smoothing=0", "+loss.aot_pair.label_smoothing=0", "loss.beta=0.1"])
    }

    func testTRLsReportToNamesTheDestinationsAfterMetricsJSONL() throws {
        XCTAssertEqual(try flags(["--report-to", "tensorboard"]), ["report_to=[jsonl,tensorboard]"])
        XCTAssertEqual(try flags(["--report-to", "none"]), ["report_to=[jsonl]"])
        XCTAssertEqual(try flags(["--report-to", "all"]), ["report_to=[jsonl,tensorboard,mlflow]"])
        XCTAssertEqual(try flags(["--report-to", "tensorboard,mlflow"]), ["report_to=[jsonl,tensorboard,mlflow]"])
    }

    func testAReportDestinationDpohostLacksIsAnErrorListingTheOnesItHas() {
        guard case let .invalidValue(key, value, reason)? = loadError(required + ["report_to=[jsonl,wandb]"]) else {
            return XCTFail("expected an invalid value")
        }
        XCTAssertEqual([key, value, reason], ["report_to", "wandb", "expected jsonl, tensorboard, mlflow"])
    }

    func testTRLsModelFlagKeepsTheReferenceInThePolicysDtypeUnlessSetAfter() throws {
        XCTAssertEqual(try flags(["--model-name-or-path", "/m"]),
                       ["model.name_or_path=/m", "model.reference_dtype=float32"])
        XCTAssertEqual(try flags(["--model-name-or-path", "/m", "model.reference_dtype=bfloat16"]).suffix(1), ["model.reference_dtype=bfloat16"])
    }

    func testRefModelNamesTheReferencesOwnCheckpoint() throws {
        XCTAssertEqual(try flags(["--ref-model", "/models/ref"]), ["model.reference_name_or_path=/models/ref"])
        XCTAssertEqual(try load(required + ["model.reference_name_or_path=/models/ref"]).config.model.referenceNameOrPath, "/models/ref")
        XCTAssertNil(try load(required).config.model.referenceNameOrPath)
    }

    func testSchedulerFlagsAndAWarmupBelowOneAsTransformersReadsIt() throws {
        XCTAssertEqual(try flags(["--lr-scheduler-type", "cosine", "--warmup-steps", "0.1"]),
                       ["lr_scheduler_type=cosine", "warmup_ratio=0.1"])
        XCTAssertEqual(try flags(["--warmup-steps", "10", "--warmup-ratio", "0.2"]),
                       ["warmup_steps=10", "warmup_ratio=0.2"])
    }

    func testAnUnknownSchedulerIsAnErrorListingTheKnownOnes() {
        guard case let .invalidValue(key, value, _)? = loadError(required + ["lr_scheduler_type=polynomial"]) else {
            return XCTFail("expected an invalid value")
        }
        XCTAssertEqual([key, value], ["lr_scheduler_type", "polynomial"])
    }

    func testTRLStepCountsBecomeExamplesOfTheBatch() throws {
        XCTAssertEqual(try flags(["--max-steps", "5", "--eval-steps", "2", "--logging-steps", "1", "--save-steps", "3"]),
                       ["max_steps=5", "eval_steps=2", "logging_steps=1", "save_steps=3"])
        let c = try load(required + ["batch_size=4", "n_epochs=2", "max_steps=5", "eval_steps=2", "logging_steps=1", "save_steps=3"]).config
        XCTAssertEqual(c.nExamples, 20)
        XCTAssertNil(c.nEpochs)  // max_steps wins over epochs, as in TRL
        XCTAssertEqual(c.evalEvery, 8)
        XCTAssertEqual(c.loggingSteps, 1)
        XCTAssertEqual(c.saveSteps, 3)
    }

    func testPerDeviceBatchSizesMeanWhatTheyMeanInTRL() throws {
        XCTAssertEqual(try flags(["--per-device-train-batch-size", "2", "--per-device-eval-batch-size", "3"]),
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
        XCTAssertEqual(try flags(["--num-train-epochs", "2"]), ["n_epochs=2"])
        XCTAssertEqual(try flags(["--num-train-epochs", "0.5"]), ["num_train_epochs=0.5"])
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
        XCTAssertEqual(try flags(["--max-grad-norm", "1.0", "--gradient-checkpointing"]),
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
