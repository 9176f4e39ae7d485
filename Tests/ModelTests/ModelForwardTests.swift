import Autograd
import Checkpoint
import Foundation
import Model
import PluginHost
import TensorCore
import Training
import XCTest

/// Each model plugin, loaded as a user loads it (a .so found next to the binary, weights from a
/// Hugging Face directory), reproduces transformers' logits and log-probs (fixtures README
/// tolerances: logits atol 1e-4 + rtol 1e-4 on real positions, summed log-probs atol 2e-4).
final class ModelForwardTests: XCTestCase {
    func check(_ golden: String, directory: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try check(golden, model: LanguageModel(directory: directory, registry: ModelFixtures.registry(), trainable: false),
                  file: file, line: line)
    }

    func check(_ golden: String, model: LanguageModel, file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try SafeTensorsFile(path: ModelFixtures.golden("forward-\(golden).safetensors"))
        let mask = try g.indexTensor(named: "attention_mask")
        let tape = Tape(pool: WorkerPool(threads: 2), recording: false)
        let logits = try model.forward(ids: g.indexTensor(named: "input_ids"), mask: mask, tape: tape)
        let expected = try g.floatTensor(named: "logits")
        XCTAssertEqual(logits.shape, expected.shape, file: file, line: line)
        let (n, t, v) = (expected.shape[0], expected.shape[1], expected.shape[2])
        let a = logits.value.scalars, e = expected.scalars
        var worst: Float = 0
        for row in 0..<n { for pos in 0..<t where mask[row, pos] != 0 {
            for k in 0..<v { let i = (row * t + pos) * v + k; worst = max(worst, abs(a[i] - e[i]) - 1e-4 * abs(e[i])) }
        } }
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(golden): logits", file: file, line: line)
        let sums = try tape.sum(tape.labelLogProbs(logits: logits, labels: g.indexTensor(named: "labels")), axis: 1).value.scalars
        for (x, y) in zip(sums, try g.floatTensor(named: "logps_sum").scalars) {
            XCTAssertEqual(x, y, accuracy: 2e-4 + 1e-5 * abs(y), "\(golden): logps_sum", file: file, line: line)
        }
    }

    func testGPT2MatchesTransformers() throws { try check("gpt2-tiny", directory: ModelFixtures.model("gpt2-tiny")) }
    func testShardedGPT2CheckpointGivesTheSameLogits() throws { try check("gpt2-tiny", directory: ModelFixtures.model("gpt2-tiny-sharded")) }
    func testPythiaParallelResidualMatchesTransformers() throws { try check("pythia-tiny", directory: ModelFixtures.model("pythia-tiny")) }
    func testPythiaReferenceModelMatchesTransformers() throws { try check("pythia-tiny-ref", directory: ModelFixtures.model("pythia-tiny-ref")) }
    func testPythiaSequentialResidualMatchesTransformers() throws { try check("pythia-tiny-seq", directory: ModelFixtures.model("pythia-tiny-seq")) }
    func testLlamaMatchesTransformers() throws { try check("llama-tiny", directory: ModelFixtures.model("llama-tiny")) }
    /// GPT-J: a model plugin in plain C (Plugins/Models/GPTJ/gptj.c), interleaved partial rotary.
    func testGPTJInPlainCMatchesTransformers() throws { try check("gptj-tiny", directory: ModelFixtures.model("gptj-tiny")) }

    // PyTorch-format checkpoints (fixtures torch-format/README.md), read without running the pickle.
    func torchFormat(_ name: String) -> String { ModelFixtures.root.appendingPathComponent("torch-format/\(name)").path }
    func testAPytorchModelBinFolderGivesTheSafetensorsModelsLogits() throws {
        try check("llama-tiny", directory: torchFormat("llama-tiny-bin"))
        // transformers 5 wrote Pythia's head as lm_head.weight (the plugin's alias of embed_out.weight).
        try check("pythia-tiny", directory: torchFormat("pythia-tiny-bin"))
    }
    /// The DPO reference's second stage: `model.archive=.../LATEST/policy.pt` over the base model.
    func testTheDPOReferencesPolicyArchiveLoadsOverTheModel() throws {
        let model = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: false)
        let archive = torchFormat("policy.pt")
        try model.load(weights: CheckpointStore.weights(in: archive), from: archive)
        try check("pythia-tiny-ref", model: model)
    }
    func testAShardedPytorchModelBinFolderWithItsIndexGivesTheSameLogits() throws {
        try check("gpt2-tiny", directory: torchFormat("gpt2-tiny-bin-sharded"))
    }


    func testTransformers4ConfigKeysGiveTheSameLogits() throws {
        for name in ["gpt2-tiny", "pythia-tiny", "pythia-tiny-seq", "llama-tiny"] {
            let dir = try ModelFixtures.copy(name)
            try FileManager.default.removeItem(at: dir.appendingPathComponent("config.json"))
            try FileManager.default.copyItem(at: ModelFixtures.root.appendingPathComponent("legacy-configs/\(name).config.json"),
                                             to: dir.appendingPathComponent("config.json"))
            try check(name, directory: dir.path)
        }
    }

    func testShardedAndSingleFileCheckpointsLoadIdenticalWeights() throws {
        let registry = try ModelFixtures.registry()
        let one = try LanguageModel(directory: ModelFixtures.model("gpt2-tiny"), registry: registry, trainable: false)
        let sharded = try LanguageModel(directory: ModelFixtures.model("gpt2-tiny-sharded"), registry: registry, trainable: false)
        XCTAssertEqual(one.parameters.map(\.name), sharded.parameters.map(\.name))
        for (a, b) in zip(one.parameters, sharded.parameters) {
            XCTAssertEqual(a.variable.value.scalars, b.variable.value.scalars, a.name)
        }
    }

    func testModelPluginsDeclareHuggingFaceNamesAndParallelStyles() throws {
        let model = try LanguageModel(directory: ModelFixtures.model("llama-tiny"), registry: ModelFixtures.registry(), trainable: true)
        let specs = model.plugin.parameterSpecs
        XCTAssertEqual(specs.count, 2 * 9 + 3)
        XCTAssertEqual(specs.first { $0.name == "model.layers.0.self_attn.q_proj.weight" }?.parallel, .column)
        XCTAssertEqual(specs.first { $0.name == "model.layers.1.mlp.down_proj.weight" }?.parallel, .row)
        XCTAssertEqual(model.plugin.blockName, "model.layers.{i}")
        XCTAssertTrue(model.parameters.allSatisfy { $0.variable.requiresGrad })
    }
}
