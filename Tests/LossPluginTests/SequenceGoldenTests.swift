import Autograd
import PluginHost
import TensorCore
import XCTest

/// The sequence-level losses from the goldens' own log-probs (no model): per-example losses, the
/// batch loss, rewards and d loss / d policy log-probs, within the fixtures README tolerances.
final class SequenceGoldenTests: XCTestCase {
    func testDPOMatchesGolden() throws { try check(.dpo) }
    func testConservativeDPOWithItsDefaultSmoothingMatchesGolden() throws { try check(.cdpo) }
    func testIPOOnSummedLogProbsMatchesGolden() throws { try check(.ipo) }
    func testReferenceFreeDPOMatchesGoldenAndKeepsReferenceRewards() throws { try check(.referenceFree) }
    func testLengthAveragedDPOMatchesGolden() throws { try check(.averaged) }

    func testSFTIsTheMeanOfSummedNegativeLogLikelihoods() throws {
        let g = try LossVariant.sft.file()
        let tape = Tape(pool: .serial)
        let pc = leaf(try g.floatTensor(named: "policy_chosen_logps").scalars)
        var inputs = LossInputs(batchPairs: 4)
        inputs.policyChosenLogps = pc
        let result = try LossVariant.sft.plugin().compute(inputs, tape: tape)
        try tape.backward(result.loss)

        assertClose(try XCTUnwrap(result.metric("loss/{split}")), try g.floatTensor(named: "losses").scalars,
                    atol: 1e-5, rtol: 1e-4, "sft losses")
        assertClose([result.loss.value.item], try g.floatTensor(named: "loss").scalars, atol: 1e-5, rtol: 1e-4, "sft loss")
        assertClose(pc.grad!.scalars, try g.floatTensor(named: "dloss_d_policy_chosen_logps").scalars, atol: 1e-7, "sft d/dpc")
        // Summed NLL per sequence (about 74), far from the token-mean cross-entropy (docs/spec/losses.md §1).
        let tokenMean = try g.floatTensor(named: "token_mean_cross_entropy").item
        XCTAssertGreaterThan(result.loss.value.item, 5 * tokenMean)
    }

    /// TRL's IPO: `h' = Dw/lc - Dl/lr` from length-averaged log-probs. The dpo_avg_logp golden
    /// stores exactly that `h'` as its preference logits.
    func testLengthAveragedIPOIsTRLsIPO() throws {
        let g = try LossVariant.averaged.file()
        let lc = responseLengths(try g.indexTensor(named: "chosen_labels"))
        let lr = responseLengths(try g.indexTensor(named: "rejected_labels"))
        func sums(_ name: String, _ lengths: [Float]) throws -> Variable {
            vector(zip(try g.floatTensor(named: name).scalars, lengths).map { $0 * $1 })
        }
        var inputs = LossInputs(batchPairs: 4)
        inputs.policyChosenLogps = try sums("policy_chosen_logps", lc)
        inputs.policyRejectedLogps = try sums("policy_rejected_logps", lr)
        inputs.referenceChosenLogps = try sums("reference_chosen_logps", lc)
        inputs.referenceRejectedLogps = try sums("reference_rejected_logps", lr)
        inputs.chosenLengths = vector(lc)
        inputs.rejectedLengths = vector(lr)
        let plugin = try LossFixtures.loss("ipo", ["beta": "0.1", "average_log_prob": "true"])
        let result = try plugin.compute(inputs, tape: Tape(pool: .serial))
        let expected = try g.floatTensor(named: "preference_logits").scalars.map { ($0 - 5) * ($0 - 5) }
        assertClose(try XCTUnwrap(result.metric("loss/{split}")), expected, atol: 1e-4, rtol: 1e-4, "averaged IPO losses")
    }

    /// Feeds the golden pc, pr (as leaves) and qc, qr. The averaged golden stores MEANS; the
    /// plugin averages itself, so it gets the sums (mean x length) and the lengths, and its
    /// gradient w.r.t. a sum is the golden one w.r.t. the mean divided by the length.
    func check(_ variant: LossVariant, file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try variant.file()
        let averaged = variant.options["average_log_prob"] == "true"
        let lc = responseLengths(try g.indexTensor(named: "chosen_labels"))
        let lr = responseLengths(try g.indexTensor(named: "rejected_labels"))
        func logps(_ name: String, _ lengths: [Float]) throws -> [Float] {
            let v = try g.floatTensor(named: name).scalars
            return averaged ? zip(v, lengths).map { $0 * $1 } : v
        }
        let pc = leaf(try logps("policy_chosen_logps", lc)), pr = leaf(try logps("policy_rejected_logps", lr))
        var inputs = LossInputs(batchPairs: 4)
        inputs.policyChosenLogps = pc
        inputs.policyRejectedLogps = pr
        inputs.referenceChosenLogps = vector(try logps("reference_chosen_logps", lc))
        inputs.referenceRejectedLogps = vector(try logps("reference_rejected_logps", lr))
        inputs.chosenLengths = vector(lc)
        inputs.rejectedLengths = vector(lr)

        let tape = Tape(pool: .serial)
        let result = try variant.plugin().compute(inputs, tape: tape)
        try tape.backward(result.loss)

        let name = variant.golden
        assertClose(try XCTUnwrap(result.metric("loss/{split}")), try g.floatTensor(named: "losses").scalars,
                    atol: 1e-5, rtol: 1e-4, "\(name) losses", file: file, line: line)
        assertClose([result.loss.value.item], try g.floatTensor(named: "loss").scalars, atol: 1e-5, rtol: 1e-4,
                    "\(name) loss", file: file, line: line)
        assertClose(try XCTUnwrap(result.metric("rewards_{split}/chosen")), try g.floatTensor(named: "chosen_rewards").scalars,
                    atol: 2e-4, "\(name) chosen rewards", file: file, line: line)
        assertClose(try XCTUnwrap(result.metric("rewards_{split}/rejected")), try g.floatTensor(named: "rejected_rewards").scalars,
                    atol: 2e-4, "\(name) rejected rewards", file: file, line: line)
        let dpc = try g.floatTensor(named: "dloss_d_policy_chosen_logps").scalars
        let dpr = try g.floatTensor(named: "dloss_d_policy_rejected_logps").scalars
        let scaleC = averaged ? lc : [Float](repeating: 1, count: 4), scaleR = averaged ? lr : [Float](repeating: 1, count: 4)
        assertClose(zip(pc.grad!.scalars, scaleC).map { $0 * $1 }, dpc, atol: 1e-6, rtol: 1e-4, "\(name) d/dpc", file: file, line: line)
        assertClose(zip(pr.grad!.scalars, scaleR).map { $0 * $1 }, dpr, atol: 1e-6, rtol: 1e-4, "\(name) d/dpr", file: file, line: line)
    }
}
