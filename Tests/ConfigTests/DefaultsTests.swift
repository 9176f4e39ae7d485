import XCTest
@testable import Configuration

final class DefaultsTests: XCTestCase {
    func testTopLevelDefaultsMatchTheReference() throws {
        let c = try load(required).config
        XCTAssertEqual(c.seed, 0)
        XCTAssertEqual(c.batchSize, 4)
        XCTAssertEqual(c.evalBatchSize, 16)
        XCTAssertFalse(c.debug)
        XCTAssertNil(c.fsdpPort)
        XCTAssertEqual(c.datasets, ["hh"])
        XCTAssertTrue(c.wandb.enabled)
        XCTAssertNil(c.wandb.entity)
        XCTAssertEqual(c.wandb.project, "direct-preference-optimization")
        XCTAssertEqual(c.localDirs, ["/scr-ssd", "/scr", ".cache"])
        XCTAssertTrue(c.sampleDuringEval)
        XCTAssertEqual(c.nEvalModelSamples, 16)
        XCTAssertTrue(c.doFirstEval)
        XCTAssertEqual(c.lr, 5e-7)
        XCTAssertEqual(c.gradientAccumulationSteps, 1)
        XCTAssertEqual(c.maxGradNorm, 10.0)
        XCTAssertEqual(c.maxLength, 512)
        XCTAssertEqual(c.maxPromptLength, 256)
        XCTAssertEqual(c.nEpochs, 1)
        XCTAssertNil(c.nExamples)
        XCTAssertEqual(c.nEvalExamples, 256)
        XCTAssertEqual(c.trainer, .basic)
        XCTAssertEqual(c.optimizer, "RMSprop")
        XCTAssertEqual(c.warmupSteps, 150)
        XCTAssertFalse(c.activationCheckpointing)
        XCTAssertEqual(c.evalEvery, 20_000)
        XCTAssertEqual(c.minimumLogIntervalSecs, 1.0)
        XCTAssertEqual(c.expName, "run")
    }

    func testDefaultGroupsAreBlankModelAndSFT() throws {
        let c = try load(required).config
        XCTAssertEqual(c.model.nameOrPath, "/models/m")
        XCTAssertNil(c.model.tokenizerNameOrPath)
        XCTAssertNil(c.model.archive)
        XCTAssertNil(c.model.blockName)
        XCTAssertEqual(c.model.policyDtype, "float32")
        XCTAssertNil(c.model.fsdpPolicyMp)
        XCTAssertEqual(c.model.referenceDtype, "float16")
        XCTAssertEqual(c.loss.name, "sft")
        XCTAssertEqual(c.loss.options, ["average_log_prob": .bool(false), "token_mean": .bool(false)])
    }

    func testDpohostAdditionsHaveTheirDocumentedDefaults() throws {
        let c = try load(required).config
        XCTAssertNil(c.resume)
        XCTAssertNil(c.threads)
        XCTAssertEqual(c.plugins, [])
        XCTAssertEqual(c.progress, .auto)
        XCTAssertNil(c.maxCompletionLength)
        XCTAssertNil(c.truncationMode)
        XCTAssertFalse(c.syncRefModel)
        XCTAssertEqual(c.refModelMixupAlpha, 0.6)
        XCTAssertEqual(c.refModelSyncSteps, 512)
        XCTAssertFalse(c.precomputeRefLogProbs)
        XCTAssertTrue(c.sharePrompt)
        XCTAssertEqual(c.extras, [:])
        XCTAssertEqual(c.datasetOptions["hh"], ["data_dir": "data/hh-rlhf"])
        XCTAssertEqual(c.datasetOptions["jsonl"], [:])
    }

    func testModelGroupFilesMatchTheReferenceTable() throws {
        let table: [(String, String, String?, String)] = [
            ("gpt2-large", "gpt2-large", "GPT2Block", "float16"),
            ("gpt2-xl", "gpt2-xl", "GPT2Block", "float16"),
            ("pythia28", "EleutherAI/pythia-2.8b", "GPTNeoXLayer", "float16"),
            ("pythia69", "EleutherAI/pythia-6.9b", "GPTNeoXLayer", "float16"),
            ("llama7b", "huggyllama/llama-7b", "LlamaDecoderLayer", "float16"),
            ("gptj", "EleutherAI/gpt-j-6b", "GPTJBlock", "float16"),
            ("gpt2-tiny", "Tests/Fixtures/models/gpt2-tiny", "GPT2Block", "float32"),
            ("pythia-tiny", "Tests/Fixtures/models/pythia-tiny", "GPTNeoXLayer", "float32"),
            ("llama-tiny", "Tests/Fixtures/models/llama-tiny", "LlamaDecoderLayer", "float32"),
        ]
        for (file, path, block, refDtype) in table {
            let m = try load(["exp_name=run", "model=\(file)"]).config.model
            XCTAssertEqual(m.nameOrPath, path, file)
            XCTAssertEqual(m.blockName, block, file)
            XCTAssertEqual(m.policyDtype, "float32", file)
            XCTAssertNil(m.fsdpPolicyMp, file)
            XCTAssertEqual(m.referenceDtype, refDtype, file)
            XCTAssertNil(m.tokenizerNameOrPath, file)
            XCTAssertNil(m.archive, file)
        }
    }

    func testTinyModelPathsPointAtTheFixtures() throws {
        let repo = repoConfigDirectory.deletingLastPathComponent()
        for name in ["gpt2-tiny", "pythia-tiny", "llama-tiny"] {
            let path = try load(["exp_name=run", "model=\(name)"]).config.model.nameOrPath
            XCTAssertTrue(FileManager.default.fileExists(atPath: repo.appendingPathComponent(path + "/config.json").path), path)
        }
    }

    /// The loss section's options as the loss plugins read them (text).
    private func option(_ loss: LossConfig, _ key: String) -> String? { loss.options[key]?.displayText }
    private func number(_ loss: LossConfig, _ key: String) -> Double? { option(loss, key).flatMap(Double.init) }

    func testLossGroupDefaults() throws {
        let dpo = try load(required + ["loss=dpo", "loss.beta=0.1"]).config.loss
        XCTAssertEqual(dpo.name, "dpo")
        XCTAssertEqual(number(dpo, "beta"), 0.1)
        XCTAssertEqual(number(dpo, "label_smoothing"), 0)
        XCTAssertEqual(option(dpo, "reference_free"), "false")
        XCTAssertEqual(option(dpo, "average_log_prob"), "false")

        let cdpo = try load(required + ["loss=cdpo", "loss.beta=0.1"]).config.loss
        XCTAssertEqual(cdpo.name, "cdpo")
        XCTAssertEqual(number(cdpo, "label_smoothing"), 0.2)
        XCTAssertEqual(option(cdpo, "reference_free"), "false")

        let ipo = try load(required + ["loss=ipo", "loss.beta=0.5"]).config.loss
        XCTAssertEqual(ipo.name, "ipo")
        XCTAssertEqual(Set(ipo.options.keys), ["beta", "average_log_prob", "length_normalized", "f_divergence_type", "f_alpha_divergence_coef"])

        let tdpo = try load(required + ["loss=tdpo"]).config.loss
        XCTAssertEqual(tdpo.name, "tdpo")
        XCTAssertEqual(option(tdpo, "if_tdpo2"), "false")
        XCTAssertEqual(number(tdpo, "alpha"), 0.5)
        XCTAssertEqual(number(tdpo, "beta"), 0.1)
        XCTAssertEqual(option(tdpo, "reference_free"), "false")
        XCTAssertEqual(option(tdpo, "average_log_prob"), "false")
    }

    func testUnderscoredIntegerInConfigYAMLReadsAsInteger() throws {
        // The reference writes eval_every: 20_000.
        let tree = try YAMLReader.read(file: repoConfigDirectory.appendingPathComponent("config.yaml"))
        XCTAssertEqual(tree.value(at: ["eval_every"]), .int(20_000))
        XCTAssertEqual(tree.value(at: ["lr"]), .double(5e-7))
    }
}

final class MultiLossConfigTests: XCTestCase {
    static let configDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config")

    func load(_ args: [String]) throws -> TrainingConfig {
        try ConfigLoader(configDirectory: Self.configDir).load(arguments: ["exp_name=x", "model.name_or_path=/m"] + args).config
    }

    func testListOfLossesCombinesTheirFilesWithWeights() throws {
        let c = try load(["loss=[dpo,sft]", "loss.beta=0.1", "loss.weights=[1.0,0.2]"])
        XCTAssertEqual(c.loss.names, ["dpo", "sft"])
        XCTAssertEqual(c.loss.name, "dpo")
        XCTAssertEqual(c.loss.weights, [1.0, 0.2])
        XCTAssertEqual(c.loss.options["beta"], .double(0.1))
    }

    func testWeightsDefaultToOne() throws {
        XCTAssertEqual(try load(["loss=[dpo,ipo]", "loss.beta=0.1"]).loss.weights, [1, 1])
    }

    func testOptionsUnderALossNameBelongToThatLossOnly() throws {
        let c = try load(["loss=[ipo,sft]", "loss.beta=0.1", "+loss.ipo.average_log_prob=true", "+loss.sft.token_mean=true"])
        XCTAssertEqual(c.loss.perLoss["ipo"], ["average_log_prob": .bool(true)])
        XCTAssertEqual(c.loss.perLoss["sft"], ["token_mean": .bool(true)])
        XCTAssertNil(c.loss.options["ipo"])
    }

    func testASingleLossHasOneNameAndWeight() throws {
        let c = try load(["loss=sft"])
        XCTAssertEqual(c.loss.names, ["sft"])
        XCTAssertEqual(c.loss.weights, [1])
    }
}
