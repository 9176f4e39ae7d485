import Autograd
import Foundation
import Model
import PluginHost
import TensorCore
import Training
import XCTest

/// A preference pair's shared prompt run once per pair (`SharedPrompt`,
/// `ModelPlugin.forwardSharingPrompt`): which positions are shared, and that the built-in models
/// give the whole rows' logits, and a DPO step the whole rows' loss and gradients, from it.
final class SharedPromptTests: XCTestCase {
    func tensor(_ rows: [[Int32]]) throws -> IndexTensor {
        try IndexTensor(shape: [rows.count, rows[0].count], values: rows.flatMap { $0 })
    }

    func plan(ids: [[Int32]], mask: [[Int32]]? = nil, labels: [[Int32]]) throws -> SharedPrompt? {
        SharedPrompt(ids: try tensor(ids), mask: try tensor(mask ?? ids.map { $0.map { _ in 1 } }), labels: try tensor(labels))
    }

    // MARK: - Which positions are shared

    func testTheSharedPromptEndsOnePositionBeforeTheFirstCountedLabel() throws {
        // Labels count from position 3 on: the logits of position 2 score it, so 0..<2 are shared.
        let p = try plan(ids: [[5, 6, 7, 8, 9, 1], [5, 6, 7, 2, 3, 1]],
                         labels: [[-100, -100, -100, 8, 9, 1], [-100, -100, -100, 2, 3, 1]])
        XCTAssertEqual(p?.length, 2)
        XCTAssertEqual(p?.pairs, 1)
        XCTAssertEqual(p?.rowPart(try tensor([[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])).values, [2, 3, 4, 5, 8, 9, 10, 11])
    }

    func testTheSharedPromptEndsWhereAPairsTokensOrMaskDiffer() throws {
        let labels: [[Int32]] = [[-100, -100, -100, -100, -100, 1, 1], [-100, -100, -100, -100, -100, 1, 1]]
        let token = try plan(ids: [[1, 2, 3, 4, 5, 6, 7], [1, 2, 9, 4, 5, 6, 7]], labels: labels)
        XCTAssertEqual(token?.length, 2)
        let mask = try plan(ids: [[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7]],
                            mask: [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 1, 1, 1]], labels: labels)
        XCTAssertEqual(mask?.length, 3)
        // The shortest prompt of the batch bounds every pair (rows 0/2 and 1/3 are the pairs).
        let two = try plan(ids: [[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7], [1, 8, 3, 4, 5, 6, 7]],
                           labels: labels + labels)
        XCTAssertEqual(two?.length, 1)
        XCTAssertEqual(two?.pairs, 2)
    }

    func testNothingIsSharedForAnOddRowCountOrPairsThatDifferAtTheFirstPosition() throws {
        let labels: [Int32] = [-100, -100, -100, 4, 5]
        XCTAssertNil(try plan(ids: [[1, 2, 3, 4, 5], [2, 2, 3, 4, 5]], labels: [labels, labels]))
        XCTAssertNil(try plan(ids: [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], labels: [labels, labels, labels]))
        // A label counted at position 1 leaves no position whose logits nobody reads.
        XCTAssertNil(try plan(ids: [[1, 2, 3], [1, 2, 3]], labels: [[-100, 2, 3], [-100, 2, 3]]))
    }

    func testEveryRowKeepsAtLeastTwoPositionsOfItsOwn() throws {
        // Identical rows with no counted label (all prompt): a loss batch still needs T >= 2.
        let p = try plan(ids: [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], labels: [[-100, -100, -100, -100, -100], [-100, -100, -100, -100, -100]])
        XCTAssertEqual(p?.length, 3)
    }

    // MARK: - The models

    /// 2 pairs (4 rows) of 12 tokens: a 6-token prompt per pair, the first pair's left-padded by 1,
    /// different responses, the second rejected row padded by 2. The shared prompt is positions 0..<5.
    func batch(vocab: Int) throws -> (ids: IndexTensor, mask: IndexTensor, labels: IndexTensor) {
        let (rows, t, prompt) = (4, 12, 6)
        var ids: [Int32] = [], mask: [Int32] = [], labels: [Int32] = []
        for r in 0..<rows {
            for p in 0..<t {
                let id = Int32(p < prompt ? ((r % 2) * 29 + p * 13 + 3) % vocab : (r * 31 + p * 17 + 5) % vocab)
                let real = (r != 3 || p < t - 2) && (r % 2 == 1 || p > 0)
                ids.append(real ? id : 0)
                mask.append(real ? 1 : 0)
                labels.append(real && p >= prompt ? id : -100)
            }
        }
        return (try IndexTensor(shape: [rows, t], values: ids), try IndexTensor(shape: [rows, t], values: mask),
                try IndexTensor(shape: [rows, t], values: labels))
    }

    static let models = ["gpt2-tiny", "pythia-tiny", "pythia-tiny-seq", "llama-tiny", "gptj-tiny"]

    func testSharedPromptLogitsAreTheWholeRowsLogitsForEveryBuiltInModel() throws {
        try assertSharedPromptLogitsAreTheWholeRowsLogits(packed: true)
    }

    /// A model plugin that does not set `attends_through_host` runs the prompts as a forward of
    /// their own before the rows.
    func testSharedPromptLogitsFromAPromptPassOfItsOwnAreTheWholeRowsLogits() throws {
        try assertSharedPromptLogitsAreTheWholeRowsLogits(packed: false)
    }

    func assertSharedPromptLogitsAreTheWholeRowsLogits(packed: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let registry = try ModelFixtures.registry()
        for name in Self.models {
            let model = try LanguageModel(directory: ModelFixtures.model(name), registry: registry, trainable: false)
            XCTAssertTrue(model.plugin.packsSharedPrompt, "\(name): every built-in model attends through the host", file: file, line: line)
            model.plugin.packsSharedPrompt = packed
            let (ids, mask, labels) = try batch(vocab: model.parameters[0].variable.shape[0])
            let prompt = try XCTUnwrap(SharedPrompt(ids: ids, mask: mask, labels: labels))
            XCTAssertEqual(prompt.length, 5)
            let tape = Tape(pool: WorkerPool(threads: 2), recording: false)
            let whole = try model.forward(ids: ids, mask: mask, tape: tape).value
            let shared = try XCTUnwrap(model.plugin.forwardSharingPrompt(inputIDs: ids, attentionMask: mask, prompt: prompt.length,
                                                                         promptRows: prompt.pairs, tape: tape), name).value
            let (n, t, v) = (whole.shape[0], whole.shape[1], whole.shape[2])
            XCTAssertEqual(shared.shape, [n, t - prompt.length, v], name, file: file, line: line)
            var worst: Float = 0
            for r in 0..<n {
                for p in prompt.length..<t where mask[r, p] == 1 {
                    for k in 0..<v { worst = max(worst, abs(shared[r, p - prompt.length, k] - whole[r, p, k])) }
                }
            }
            // A prompt pass and whole rows are products of other heights, which the libraries block
            // (and so round) differently: oneDNN's came to 1.0e-5 on llama-tiny, OpenBLAS's below.
            // The fixtures allow 1e-4 for logits against PyTorch.
            XCTAssertLessThanOrEqual(worst, 4e-5, "\(name): largest logit difference", file: file, line: line)
        }
    }

    /// The ops of one shared-prompt forward of pythia-tiny over `batch`, packed or not.
    func sharedPromptOps(packed: Bool) throws -> OpProfile {
        let registry = try ModelFixtures.registry()
        let model = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: registry, trainable: false)
        model.plugin.packsSharedPrompt = packed
        let (ids, mask, labels) = try batch(vocab: model.parameters[0].variable.shape[0])
        let prompt = try XCTUnwrap(SharedPrompt(ids: ids, mask: mask, labels: labels))
        let tape = Tape(pool: .serial, recording: false)
        let profile = OpProfile()
        tape.profile = profile
        _ = try model.plugin.forwardSharingPrompt(inputIDs: ids, attentionMask: mask, prompt: prompt.length,
                                                  promptRows: prompt.pairs, tape: tape)
        return profile
    }

    func testAPackedForwardRunsEachLinearOnceOverPromptsAndRows() throws {
        // pythia-tiny: 2 blocks of 4 linears, each one product over prompts and rows; attention
        // twice per block (the prompts, then the rows after them); the head once, over the rows.
        let profile = try sharedPromptOps(packed: true)
        XCTAssertEqual(profile.entries["linear"]?.calls, 2 * 4 + 1)
        XCTAssertEqual(profile.entries["attention"]?.calls, 2 * 2)
        XCTAssertEqual(profile.entries["layerNorm"]?.calls, 2 * 2 + 1)
    }

    func testAPromptPassOfItsOwnStopsAfterTheLastLayersKeys() throws {
        // pythia-tiny: 2 blocks of 4 linears. The prompt pass runs block 0 whole and block 1 up to
        // its keys (the fused query/key/value linear); the rows' pass runs both blocks and the head.
        let profile = try sharedPromptOps(packed: false)
        // Every row's logits are asked for, so the head is a plain linear (once, in the rows' pass).
        XCTAssertEqual(profile.entries["linear"]?.calls, 4 + 1 + 2 * 4 + 1)
        XCTAssertEqual(profile.entries["attention"]?.calls, 1 + 2)
        XCTAssertEqual(profile.entries["layerNorm"]?.calls, 2 + 1 + 2 * 2 + 1)
    }

    func dpoStep(_ name: String, loss: String = "dpo", sharing: Bool, packed: Bool = true) throws -> FixtureDPOStep {
        let options = loss == "tdpo" ? ["if_tdpo2": "true"] : ["beta": "0.1"]
        return try FixtureDPOStep(name, loss: loss, options: options, batch: batch) { policy, model in
            model.sharesPrompts = sharing
            for m in [policy, model.reference].compactMap({ $0 }) { m.plugin.packsSharedPrompt = packed }
        }
    }

    func testADPOStepWithASharedPromptHasTheWholeRowsLossAndEveryGradient() throws {
        for name in Self.models { try assertSharedPromptStepMatchesWholeRows(name, loss: "dpo") }
    }

    func testADPOStepWithAPromptPassOfItsOwnHasTheWholeRowsLossAndEveryGradient() throws {
        for name in Self.models { try assertSharedPromptStepMatchesWholeRows(name, loss: "dpo", packed: false) }
    }

    func testATDPOStepWithAPromptPassOfItsOwnHasTheWholeRowsLossAndEveryGradient() throws {
        for name in ["pythia-tiny", "llama-tiny"] { try assertSharedPromptStepMatchesWholeRows(name, loss: "tdpo", packed: false) }
    }

    /// TDPO reads the reference's logits (cut to the positions after the prompt, like the
    /// policy's) for its per-token KL.
    func testATDPOStepWithASharedPromptHasTheWholeRowsLossAndEveryGradient() throws {
        for name in ["pythia-tiny", "llama-tiny"] { try assertSharedPromptStepMatchesWholeRows(name, loss: "tdpo") }
    }

    func assertSharedPromptStepMatchesWholeRows(_ name: String, loss: String, packed: Bool = true, file: StaticString = #filePath,
                                                line: UInt = #line) throws {
        let whole = try dpoStep(name, loss: loss, sharing: false)
        let shared = try dpoStep(name, loss: loss, sharing: true, packed: packed)
        XCTAssertTrue(whole.loss.isFinite && whole.loss != 0, "\(name): loss \(whole.loss)", file: file, line: line)
        XCTAssertEqual(shared.loss, whole.loss, accuracy: 1e-6 * max(1, abs(whole.loss)), "\(name): \(loss) loss",
                       file: file, line: line)
        XCTAssertEqual(Set(shared.gradients.keys), Set(whole.gradients.keys), name, file: file, line: line)
        for (parameter, expected) in whole.gradients {
            let got = try XCTUnwrap(shared.gradients[parameter])
            let scale = expected.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 0, "\(name): \(parameter) has no gradient", file: file, line: line)
            // The prompt's gradient is summed over the pair before it reaches the weights:
            // the same sum in another order.
            let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-4 * scale + 1e-7, "\(name): gradient of \(parameter)", file: file, line: line)
        }
    }
}
