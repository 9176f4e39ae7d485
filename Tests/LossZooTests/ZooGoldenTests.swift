import Autograd
import PluginHost
import TensorCore
import XCTest

/// Each zoo loss against `Golden/zoo_golden.json` (independent float64 numpy formulas, finite-
/// difference gradients): per-example losses, the batch loss, d loss / d pc and d pr, and the
/// DPO metrics (rewards, strict accuracies, margins, log-probs). One case per test.
final class ZooGoldenTests: XCTestCase {
    func testHinge() throws { try check("hinge") }
    func testHingeDefaultBetaIsTRLs() throws { try check("hinge_default_beta") }
    func testRobust() throws { try check("robust") }
    func testEXOPair() throws { try check("exo_pair") }
    func testEXOPairDefaultEpsIsTRLsReplacementForZero() throws { try check("exo_pair_default_eps") }
    func testNCAPair() throws { try check("nca_pair") }
    func testBCOPairBatchMeanBaselineOnTwoBatches() throws { try check("bco_pair_batch") }
    func testBCOPairRunningBaselineCarriesAcrossBatches() throws { try check("bco_pair_running") }
    func testBCOPairZeroBaseline() throws { try check("bco_pair_zero") }
    func testSPPOHard() throws { try check("sppo_hard") }
    func testAOTSortsAndRoutesGradientsToTheSortedElements() throws { try check("aot") }
    func testAOTPairSortsBothLogRatiosIndependently() throws { try check("aot_pair") }
    func testAPOZero() throws { try check("apo_zero") }
    func testAPODown() throws { try check("apo_down") }
    func testDiscoPOPWithTauOne() throws { try check("discopop") }
    func testDiscoPOPDefaultTauIsTRLs() throws { try check("discopop_default_tau") }
    func testRPOAddsTheChosenTokenMeanNLL() throws { try check("rpo") }
    func testRPODefaults() throws { try check("rpo_defaults") }
    func testSimPOWithoutAnyReferenceInput() throws { try check("simpo") }
    func testSimPODefaults() throws { try check("simpo_defaults") }

    func testHingeUnderForwardKL() throws { try check("hinge_forward_kl") }
    func testRobustUnderJensenShannon() throws { try check("robust_js_divergence") }
    func testEXOPairUnderAlphaDivergence() throws { try check("exo_pair_alpha_divergence") }
    func testDiscoPOPUnderForwardKL() throws { try check("discopop_forward_kl") }
    func testNCAPairWeighsEachExampleByItsPairWeight() throws { try check("nca_pair_pair_weights") }
    func testRPOWeighsItsBroadcastNLLTermToo() throws { try check("rpo_pair_weights") }

    func testEveryZooLossHasAGoldenCase() {
        XCTAssertEqual(Set(ZooGolden.shared.cases.map(\.plugin)), Set(Zoo.losses))
    }

    /// Runs every call of the case on ONE plugin instance (bco_pair's running baseline carries).
    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let golden = try ZooGolden.named(name)
        let plugin = try Zoo.loss(golden.plugin, golden.options)
        for (n, call) in golden.calls.enumerated() {
            try check(plugin, call, what: "\(name) call \(n)", file: file, line: line)
        }
    }

    func check(_ plugin: LossPlugin, _ call: ZooGolden.Call, what: String, file: StaticString, line: UInt) throws {
        let x = call.inputs, e = call.expected
        let pc = leaf(x.pc), pr = leaf(x.pr)
        var inputs = LossInputs(batchPairs: x.pc.count)
        inputs.policyChosenLogps = pc
        inputs.policyRejectedLogps = pr
        inputs.referenceChosenLogps = x.qc.map(vector)
        inputs.referenceRejectedLogps = x.qr.map(vector)
        inputs.chosenLengths = x.lc.map(vector)
        inputs.rejectedLengths = x.lr.map(vector)
        let tokens = x.policy_token_logps.map { leaf($0, shape: x.token_shape) }
        inputs.policyTokenLogps = tokens
        inputs.responseMask = x.response_mask.map { Variable(try! Tensor(shape: x.token_shape!, values: $0)) }
        inputs.pairWeights = x.pair_weights.map(vector)

        let tape = Tape(pool: .serial)
        let result = try plugin.compute(inputs, tape: tape)
        try tape.backward(result.loss)

        func metric(_ key: String) throws -> [Float] { try XCTUnwrap(result.metric(key), "\(what): no \(key)", file: file, line: line) }
        assertClose(try metric("loss/{split}"), e.losses, atol: 1e-5, rtol: 1e-4, "\(what) losses", file: file, line: line)
        assertClose([result.loss.value.item], [e.loss], atol: 1e-5, rtol: 1e-4, "\(what) loss", file: file, line: line)
        assertClose(pc.grad!.scalars, e.d_pc, atol: 1e-6, rtol: 1e-4, "\(what) d/dpc", file: file, line: line)
        assertClose(pr.grad!.scalars, e.d_pr, atol: 1e-6, rtol: 1e-4, "\(what) d/dpr", file: file, line: line)
        assertClose(try metric("rewards_{split}/chosen"), e.rewards_chosen, atol: 1e-5, rtol: 1e-5, "\(what) chosen rewards",
                    file: file, line: line)
        assertClose(try metric("rewards_{split}/rejected"), e.rewards_rejected, atol: 1e-5, rtol: 1e-5, "\(what) rejected rewards",
                    file: file, line: line)
        XCTAssertEqual(try metric("rewards_{split}/accuracies"), e.accuracies, "\(what) accuracies (strict >)", file: file, line: line)
        assertClose(try metric("rewards_{split}/margins"), e.margins, atol: 1e-5, rtol: 1e-5, "\(what) margins", file: file, line: line)
        assertClose(try metric("logps_{split}/chosen"), e.logps_chosen, atol: 1e-5, rtol: 1e-6, "\(what) chosen logps",
                    file: file, line: line)
        assertClose(try metric("logps_{split}/rejected"), e.logps_rejected, atol: 1e-5, rtol: 1e-6, "\(what) rejected logps",
                    file: file, line: line)
        if let expectedTokens = e.d_policy_token_logps {
            let grad = try XCTUnwrap(tokens?.grad, "\(what): no gradient reached the token log-probs", file: file, line: line)
            assertClose(grad.scalars, expectedTokens, atol: 1e-6, rtol: 1e-4, "\(what) d/d token logps", file: file, line: line)
            assertClose(try metric("nll_loss/{split}"), try XCTUnwrap(e.nll_loss), atol: 1e-5, rtol: 1e-5, "\(what) nll",
                        file: file, line: line)
        }
    }
}
