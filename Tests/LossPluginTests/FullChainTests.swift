import Autograd
import Objective
import PluginHost
import TensorCore
import Training
import XCTest

/// The whole chain for every golden, as the trainer runs it (`ModelLoss`): pythia-tiny (policy)
/// and pythia-tiny-ref (reference) forward through the model plugin, the loss inputs built by
/// `LossComputation`, the loss plugin, backward; the gradient of EVERY policy parameter matches
/// `grad.*` within `max|a-b| <= 1e-4 * max|golden|`, and per-example losses and rewards match too.
/// Each golden is checked with the head projecting only the positions whose label counts (the
/// trainer's default) and with every position projected.
final class FullChainTests: XCTestCase {
    func testSFTGradientOfEveryParameterMatchesGolden() throws { try check(.sft) }
    func testDPOGradientOfEveryParameterMatchesGolden() throws { try check(.dpo) }
    func testConservativeDPOGradientOfEveryParameterMatchesGolden() throws { try check(.cdpo) }
    func testIPOGradientOfEveryParameterMatchesGolden() throws { try check(.ipo) }
    func testReferenceFreeDPOGradientOfEveryParameterMatchesGolden() throws { try check(.referenceFree) }
    func testLengthAveragedDPOGradientOfEveryParameterMatchesGolden() throws { try check(.averaged) }
    func testTDPO1GradientOfEveryParameterMatchesGolden() throws { try check(.tdpo1) }
    func testTDPO2GradientOfEveryParameterMatchesGolden() throws { try check(.tdpo2) }

    /// The head projects only the positions with a counted label unless a loss reads logits
    /// elsewhere (TDPO declares it reads them only there).
    func testTheHeadProjectsOnlyScoredPositionsUnlessALossReadsOthers() throws {
        for (variant, selects) in [(LossVariant.dpo, true), (.sft, true), (.tdpo1, true)] {
            let g = try variant.file()
            let modelLoss = try ModelLoss(policy: PreferenceModels().policy, reference: nil, loss: CombinedLoss(
                [WeightedLoss(name: "loss", computation: LossComputation(plugin: try variant.plugin()))]), pool: .serial)
            let labels = try g.indexTensor(named: (variant.pluginName == "sft" ? "chosen_" : "concatenated_") + "labels")
            let rows = modelLoss.logitRows(labels: labels)
            XCTAssertEqual(rows != nil, selects, "\(variant.golden)")
            guard let rows else { continue }
            let t = labels.shape[1]
            for row in 0..<rows.rows {
                let scored = row % t < t - 1 && labels.values[row + 1] != -100
                XCTAssertEqual(rows.runs.contains { $0.contains(row) }, scored, "\(variant.golden) row \(row)")
            }
            XCTAssertLessThan(rows.count, rows.rows, "\(variant.golden): the prompt positions are left out")
        }
    }

    /// SFT runs the chosen rows only (no reference); the others the concatenated batch.
    func check(_ variant: LossVariant, file: StaticString = #filePath, line: UInt = #line) throws {
        for selects in [true, false] {
            try check(variant, selectingLogitRows: selects, file: file, line: line)
        }
    }

    func check(_ variant: LossVariant, selectingLogitRows: Bool, file: StaticString, line: UInt) throws {
        let g = try variant.file()
        let models = try PreferenceModels()
        let sft = variant.pluginName == "sft"
        let prefix = sft ? "chosen_" : "concatenated_"
        let ids = try g.indexTensor(named: prefix + "input_ids"), mask = try g.indexTensor(named: prefix + "attention_mask")
        let tape = Tape(pool: models.pool)
        var modelLoss = ModelLoss(policy: models.policy, reference: sft ? nil : models.reference,
                                  loss: CombinedLoss([WeightedLoss(name: "loss", computation: LossComputation(plugin: try variant.plugin()))]),
                                  pool: models.pool)
        modelLoss.selectsLogitRows = selectingLogitRows
        let outcome = try modelLoss.compute(ids: ids, mask: mask, labels: try g.indexTensor(named: prefix + "labels"),
                                            chosenOnly: sft, split: .train, tape: tape)
        try tape.backward(outcome.loss)

        let name = variant.golden + (selectingLogitRows ? "" : " (every position projected)")
        assertClose(try XCTUnwrap(outcome.metric("loss/train"), file: file, line: line), try g.floatTensor(named: "losses").scalars,
                    atol: 1e-5, rtol: 1e-4, "\(name) losses", file: file, line: line)
        assertClose([outcome.loss.value.item], try g.floatTensor(named: "loss").scalars, atol: 1e-5, rtol: 1e-4,
                    "\(name) loss", file: file, line: line)
        if !sft {
            assertClose(try XCTUnwrap(outcome.metric("rewards_train/chosen"), file: file, line: line),
                        try g.floatTensor(named: "chosen_rewards").scalars, atol: 2e-4, "\(name) chosen rewards", file: file, line: line)
            assertClose(try XCTUnwrap(outcome.metric("rewards_train/rejected"), file: file, line: line),
                        try g.floatTensor(named: "rejected_rewards").scalars, atol: 2e-4, "\(name) rejected rewards", file: file, line: line)
        }
        XCTAssertEqual(models.policy.parameters.count, 28, file: file, line: line)
        for p in models.policy.parameters {
            let grad = try XCTUnwrap(p.variable.grad, "\(name): no gradient for \(p.name)", file: file, line: line)
            assertGradientClose(grad.scalars, try g.floatTensor(named: LossFixtures.goldenGradientName(p.name)).scalars,
                                "\(name) \(p.name)", file: file, line: line)
        }
    }
}
