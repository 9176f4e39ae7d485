import Autograd
import Foundation
import Objective
import PluginHost
import TensorCore
import Training
import XCTest

/// What the host hands a loss: only the declared levels, SFT's chosen rows, response lengths,
/// and clear errors when a needed input is absent.
final class LossInputTests: XCTestCase {
    func testSequenceLevelGetsSummedLogProbsAndLengthsOnly() throws {
        let batch = try syntheticBatch()
        let tape = Tape(pool: .serial)
        let inputs = try LossInputBuilder(needs: .sequence).inputs(for: batch, tape: tape)
        XCTAssertEqual(inputs.batchPairs, 2)
        XCTAssertNil(inputs.policyTokenLogps)
        XCTAssertNil(inputs.policyLogits)
        // Rows 0, 1 chosen; 2, 3 rejected. Row 1 has its last label ignored.
        XCTAssertEqual(inputs.chosenLengths?.value.scalars, [3, 2])
        XCTAssertEqual(inputs.rejectedLengths?.value.scalars, [3, 3])
        let perRow = try tape.sum(tape.labelLogProbs(logits: batch.policyLogits, labels: batch.labels), axis: 1).value.scalars
        XCTAssertEqual(inputs.policyChosenLogps?.value.scalars, Array(perRow[0..<2]))
        XCTAssertEqual(inputs.policyRejectedLogps?.value.scalars, Array(perRow[2..<4]))
        XCTAssertEqual(inputs.policyChosenLogps?.requiresGrad, true)
        XCTAssertEqual(inputs.referenceChosenLogps?.requiresGrad, false)
    }

    func testTokenAndLogitLevelsGetMaskLogProbsLogitsAndLabels() throws {
        let batch = try syntheticBatch()
        let inputs = try LossInputBuilder(needs: [.token, .logits]).inputs(for: batch, tape: Tape(pool: .serial))
        XCTAssertNil(inputs.policyChosenLogps)
        XCTAssertEqual(inputs.responseMask?.shape, [4, 4])
        XCTAssertEqual(inputs.responseMask?.value.scalars, [0, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1])
        XCTAssertEqual(inputs.policyTokenLogps?.shape, [4, 4])
        XCTAssertEqual(inputs.referenceTokenLogps?.requiresGrad, false)
        XCTAssertTrue(inputs.policyLogits === batch.policyLogits)
        XCTAssertEqual(inputs.labels, batch.labels)
    }

    func testChosenOnlyBatchHasNoRejectedHalfAndNoReference() throws {
        let batch = try syntheticBatch(layout: .chosenOnly)
        let inputs = try LossInputBuilder(needs: .sequence).inputs(for: batch, tape: Tape(pool: .serial))
        XCTAssertEqual(inputs.batchPairs, 2)
        XCTAssertEqual(inputs.policyChosenLogps?.shape, [2])
        XCTAssertNil(inputs.policyRejectedLogps)
        XCTAssertNil(inputs.referenceChosenLogps)
        XCTAssertNil(inputs.rejectedLengths)
    }

    func testDPOWithoutAReferenceSaysWhatIsMissing() throws {
        let b = try syntheticBatch()
        let batch = try LossBatch(policyLogits: b.policyLogits, referenceLogits: nil, labels: b.labels, layout: .preference)
        XCTAssertThrowsError(try LossComputation(plugin: try LossVariant.dpo.plugin()).compute(batch, split: .train, tape: Tape(pool: .serial))) {
            XCTAssertTrue("\($0)".contains("input 'reference_chosen_logps' is missing"), "\($0)")
        }
    }

    func testTDPOWithoutReferenceLogitsSaysWhatIsMissing() throws {
        let b = try syntheticBatch()
        let batch = try LossBatch(policyLogits: b.policyLogits, referenceLogits: nil, labels: b.labels, layout: .preference)
        XCTAssertThrowsError(try LossComputation(plugin: try LossVariant.tdpo1.plugin()).compute(batch, split: .train, tape: Tape(pool: .serial))) {
            XCTAssertTrue("\($0)".contains("input 'reference_logits' is missing"), "\($0)")
        }
    }

    func testAPreferenceBatchNeedsAnEvenNumberOfRows() throws {
        let logits = Variable(Tensor(zeros: [3, 4, 5]))
        XCTAssertThrowsError(try LossBatch(policyLogits: logits, referenceLogits: nil,
                                           labels: IndexTensor(shape: [3, 4], repeating: 1), layout: .preference)) {
            XCTAssertTrue("\($0)".contains("2B rows"), "\($0)")
        }
    }

    /// A sequence with no response tokens would be NaN in the reference; we average with a count
    /// of 1 (and warn), so the loss stays finite.
    func testAveragingGuardsSequencesWithoutResponseTokens() throws {
        var inputs = LossInputs(batchPairs: 2)
        inputs.policyChosenLogps = leaf([-6, 0])
        inputs.policyRejectedLogps = leaf([-8, -3])
        inputs.referenceChosenLogps = vector([-5, 0])
        inputs.referenceRejectedLogps = vector([-9, -2])
        inputs.chosenLengths = vector([3, 0])
        inputs.rejectedLengths = vector([4, 2])
        let result = try LossVariant.averaged.plugin().compute(inputs, tape: Tape(pool: .serial))
        XCTAssertTrue(result.loss.value.item.isFinite)
        XCTAssertEqual(try XCTUnwrap(result.metric("logps_{split}/chosen")), [-2, 0])
        XCTAssertEqual(try XCTUnwrap(result.metric("logps_{split}/rejected")), [-2, -1.5])
    }

    /// docs/spec/losses.md §3.1: where the reference softmax underflows to exactly 0, `log(softmax)` would make the
    /// KL NaN; the plugin's `log_softmax` keeps it finite (and warns on stderr).
    func testTDPOStaysFiniteWhereTheReferenceSoftmaxUnderflows() throws {
        let b = try syntheticBatch()
        let extreme = b.referenceLogits!.value.scalars.enumerated().map { $0.offset % 6 == 0 ? Float(150) : -150 }
        let reference = Variable(try Tensor(shape: b.policyLogits.shape, values: extreme))
        XCTAssertEqual(Foundation.exp(Float(-300)), 0, "the softmax of these logits underflows")
        let batch = try LossBatch(policyLogits: b.policyLogits, referenceLogits: reference, labels: b.labels, layout: .preference)
        let tape = Tape(pool: .serial)
        let outcome = try LossComputation(plugin: try LossVariant.tdpo1.plugin()).compute(batch, split: .train, tape: tape)
        try tape.backward(outcome.loss)
        XCTAssertTrue(outcome.loss.value.item.isFinite)
        XCTAssertTrue(try XCTUnwrap(outcome.metric("kl_train/chosen")).allSatisfy(\.isFinite))
        XCTAssertTrue(b.policyLogits.grad!.scalars.allSatisfy(\.isFinite))
    }
}
