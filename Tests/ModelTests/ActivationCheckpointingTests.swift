import Autograd
import Foundation
import PluginHost
import TensorCore
import Training
import XCTest

/// Activation checkpointing of the built-in models' blocks (`run_block`): one DPO step of the
/// fixture models (policy + frozen reference, the dpo loss plugin) with and without it.
///
/// Expected to be bit-identical, not merely close: the checkpointed forward runs the same
/// kernels on the same values (only without recording), and the recomputation in backward
/// repeats them exactly (the kernels are deterministic: work is split by shape, not by timing).
/// Every gradient also accumulates in the same order: inside a block the sub-tape replays the
/// block's backward in the order the full tape would, and a block input's gradient reaches the
/// outer variable as `0 + g`, which is exact in float32.
final class ActivationCheckpointingTests: XCTestCase {
    /// 2 pairs (4 rows) of 10 tokens: a 4-token prompt, the rejected rows padded by 2.
    func batch(vocab: Int) throws -> (ids: IndexTensor, mask: IndexTensor, labels: IndexTensor) {
        let (rows, t) = (4, 10)
        var ids: [Int32] = [], mask: [Int32] = [], labels: [Int32] = []
        for r in 0..<rows {
            for p in 0..<t {
                let id = Int32((r * 31 + p * 17 + 5) % vocab)
                let real = r < 2 || p < t - 2
                ids.append(real ? id : 0)
                mask.append(real ? 1 : 0)
                labels.append(real && p >= 4 ? id : -100)
            }
        }
        return (try IndexTensor(shape: [rows, t], values: ids), try IndexTensor(shape: [rows, t], values: mask),
                try IndexTensor(shape: [rows, t], values: labels))
    }

    func dpoStep(_ name: String, checkpointing: Bool) throws -> FixtureDPOStep {
        // Checkpointed steps never share prompts; neither does the plain one compared with them.
        try FixtureDPOStep(name, batch: batch) { policy, model in
            policy.activationCheckpointing = checkpointing
            model.sharesPrompts = false
        }
    }

    func assertIdenticalWithCheckpointing(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let plain = try dpoStep(name, checkpointing: false)
        let checkpointed = try dpoStep(name, checkpointing: true)
        XCTAssertTrue(plain.loss.isFinite && plain.loss != 0, "\(name): loss \(plain.loss)", file: file, line: line)
        XCTAssertEqual(checkpointed.loss, plain.loss, "\(name): DPO loss", file: file, line: line)
        XCTAssertEqual(Set(checkpointed.gradients.keys), Set(plain.gradients.keys), file: file, line: line)
        for (parameter, expected) in plain.gradients {
            XCTAssertTrue(expected.contains { $0 != 0 }, "\(name): \(parameter) has no gradient", file: file, line: line)
            XCTAssertEqual(checkpointed.gradients[parameter], expected, "\(name): gradient of \(parameter)", file: file, line: line)
        }
    }

    func testGPT2DPOLossAndEveryGradientAreIdenticalWithCheckpointing() throws {
        try assertIdenticalWithCheckpointing("gpt2-tiny")
    }

    func testPythiaParallelResidualDPOLossAndEveryGradientAreIdenticalWithCheckpointing() throws {
        try assertIdenticalWithCheckpointing("pythia-tiny")
    }

    func testPythiaSequentialResidualDPOLossAndEveryGradientAreIdenticalWithCheckpointing() throws {
        try assertIdenticalWithCheckpointing("pythia-tiny-seq")
    }

    func testLlamaDPOLossAndEveryGradientAreIdenticalWithCheckpointing() throws {
        try assertIdenticalWithCheckpointing("llama-tiny")
    }

    func testCheckpointedForwardKeepsOneRecordedOpPerBlockInsteadOfTheBlocksActivations() throws {
        for name in ["gpt2-tiny", "pythia-tiny", "llama-tiny", "gptj-tiny"] {
            let blocks = try blockCount(name)
            let plain = try dpoStep(name, checkpointing: false).recordedOpsAfterForward
            let checkpointed = try dpoStep(name, checkpointing: true).recordedOpsAfterForward
            // Outside the blocks only the embeddings, the final norm and the head are recorded.
            XCTAssertLessThanOrEqual(checkpointed, blocks + 5, "\(name): \(checkpointed) ops held with checkpointing")
            XCTAssertGreaterThanOrEqual(plain, checkpointed + blocks * 10, "\(name): \(plain) ops held without")
        }
    }

    func blockCount(_ name: String) throws -> Int {
        let data = try Data(contentsOf: URL(fileURLWithPath: ModelFixtures.model(name) + "/config.json"))
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap((config["n_layer"] ?? config["num_hidden_layers"]) as? Int)
    }
}
