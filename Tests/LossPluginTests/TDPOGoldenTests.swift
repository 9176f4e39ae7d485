import Autograd
import Foundation
import Objective
import PluginHost
import TensorCore
import Training
import XCTest

/// TDPO's plugin on the models' logits, with the loss's inputs as separate leaves so the
/// derivatives with respect to the per-sequence margin and sequential KL can be read back:
/// the policy token log-probs carry only the margin path (`dl/dlp[t] = dl/dM`), the policy
/// logits only the KL path (`dl/dZ[t,k] = dl/dK * (softmax(Z)_k - pR_k)`).
final class TDPOGoldenTests: XCTestCase {
    struct Run {
        let result: LossResult
        let tokenGradient: [Float]   // [8, 20]
        let logitGradient: [Float]   // [8, 21, V]
        let logits, referenceLogits: [Float]
        let mask: [Float]            // [8, 20]
        let vocab: Int
    }

    func run(_ variant: LossVariant) throws -> Run {
        let g = try variant.file()
        let models = try PreferenceModels()
        let ids = try g.indexTensor(named: "concatenated_input_ids"), mask = try g.indexTensor(named: "concatenated_attention_mask")
        let labels = try g.indexTensor(named: "concatenated_labels")
        let frozen = Tape(pool: models.pool, recording: false)
        let logits = try models.policy.forward(ids: ids, mask: mask, tape: frozen)
        let referenceLogits = try models.referenceLogits(ids: ids, mask: mask)

        let policyLogits = Variable(logits.value, requiresGrad: true)
        let policyTokens = Variable(try frozen.labelLogProbs(logits: logits, labels: labels).value, requiresGrad: true)
        let responseMask = try LossBatch(policyLogits: logits, referenceLogits: referenceLogits, labels: labels,
                                         layout: .preference).responseMask()
        var inputs = LossInputs(batchPairs: 4)
        inputs.policyLogits = policyLogits
        inputs.referenceLogits = referenceLogits
        inputs.labels = labels
        inputs.policyTokenLogps = policyTokens
        inputs.referenceTokenLogps = try frozen.labelLogProbs(logits: referenceLogits, labels: labels)
        inputs.responseMask = Variable(responseMask)

        let tape = Tape(pool: models.pool)
        let plugin = try variant.plugin()
        XCTAssertEqual(plugin.needs, [.token, .logits, .scoredLogitsOnly, .dataOrder31BitSeeds])
        let result = try plugin.compute(inputs, tape: tape)
        try tape.backward(result.loss)
        return Run(result: result, tokenGradient: policyTokens.grad!.scalars, logitGradient: policyLogits.grad!.scalars,
                   logits: logits.value.scalars, referenceLogits: referenceLogits.value.scalars,
                   mask: responseMask.scalars, vocab: logits.shape[2])
    }

    /// dl/dM per row: the token gradient, equal at every kept position and 0 elsewhere.
    func marginDerivatives(_ r: Run, file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        (0..<8).map { row in
            let kept = (0..<20).filter { r.mask[row * 20 + $0] != 0 }
            let value = r.tokenGradient[row * 20 + kept[0]]
            for t in 0..<20 {
                XCTAssertEqual(r.tokenGradient[row * 20 + t], r.mask[row * 20 + t] != 0 ? value : 0, accuracy: 1e-9,
                               "row \(row) position \(t)", file: file, line: line)
            }
            return value
        }
    }

    /// dl/dK per row: least squares of the logit gradient on `softmax(Z) - pR` over kept positions.
    func klDerivatives(_ r: Run) -> [Double] {
        func softmax(_ x: ArraySlice<Float>) -> [Double] {
            let m = Double(x.max()!)
            let e = x.map { Foundation.exp(Double($0) - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        let v = r.vocab
        return (0..<8).map { row in
            var num = 0.0, den = 0.0
            for t in 0..<20 where r.mask[row * 20 + t] != 0 {
                let at = (row * 21 + t) * v
                let p = softmax(r.logits[at..<(at + v)]), q = softmax(r.referenceLogits[at..<(at + v)])
                for k in 0..<v {
                    let d = p[k] - q[k]
                    num += Double(r.logitGradient[at + k]) * d
                    den += d * d
                }
            }
            return num / den
        }
    }

    func checkValues(_ variant: LossVariant, _ r: Run, file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try variant.file()
        func golden(_ n: String) throws -> [Float] { try g.floatTensor(named: n).scalars }
        func metric(_ n: String) throws -> [Float] { try XCTUnwrap(r.result.metric(n), n, file: file, line: line) }
        assertClose(try metric("loss/{split}"), try golden("losses"), atol: 1e-5, rtol: 1e-4, "losses", file: file, line: line)
        assertClose([r.result.loss.value.item], try golden("loss"), atol: 1e-5, rtol: 1e-4, "loss", file: file, line: line)
        assertClose(try metric("rewards_{split}/chosen"), try golden("chosen_rewards"), atol: 2e-4, "chosen rewards", file: file, line: line)
        assertClose(try metric("rewards_{split}/rejected"), try golden("rejected_rewards"), atol: 2e-4, "rejected rewards", file: file, line: line)
        assertClose(try metric("kl_{split}/chosen"), try golden("chosen_position_kl"), atol: 2e-4, "chosen KL", file: file, line: line)
        assertClose(try metric("kl_{split}/rejected"), try golden("rejected_position_kl"), atol: 2e-4, "rejected KL", file: file, line: line)
        assertClose(try metric("logps_{split}/chosen"), try golden("policy_chosen_logps"), atol: 2e-4, "chosen logps", file: file, line: line)
        assertClose(try metric("logps_{split}/rejected"), try golden("policy_rejected_logps"), atol: 2e-4, "rejected logps", file: file, line: line)
        // Rewards are beta * (margin + KL), so this pins the per-sequence margins as well.
        let margins = zip(try metric("rewards_{split}/chosen"), try metric("kl_{split}/chosen")).map { $0 / 0.1 - $1 }
        assertClose(margins, try golden("chosen_logps_margin"), atol: 2e-3, "chosen margins", file: file, line: line)
    }

    func testTDPO1ValuesMatchGolden() throws { try checkValues(.tdpo1, try run(.tdpo1)) }
    func testTDPO2ValuesMatchGolden() throws { try checkValues(.tdpo2, try run(.tdpo2)) }

    func testTDPO1DerivativesWithRespectToMarginsAndBothKLs() throws {
        let g = try LossVariant.tdpo1.file(), r = try run(.tdpo1)
        let dm = marginDerivatives(r), dk = klDerivatives(r)
        assertClose(Array(dm[0..<4]), try g.floatTensor(named: "dloss_d_chosen_logps_margin").scalars, atol: 1e-7, rtol: 1e-4, "d/dMc")
        assertClose(Array(dm[4..<8]), try g.floatTensor(named: "dloss_d_rejected_logps_margin").scalars, atol: 1e-7, rtol: 1e-4, "d/dMr")
        let goldenChosenKL = try g.floatTensor(named: "dloss_d_chosen_position_kl").scalars
        XCTAssertTrue(goldenChosenKL.allSatisfy { $0 != 0 }, "TDPO1 keeps the chosen KL's gradient")
        assertClose(dk[0..<4].map(Float.init), goldenChosenKL, atol: 1e-6, rtol: 1e-3, "d/dKc")
        assertClose(dk[4..<8].map(Float.init), try g.floatTensor(named: "dloss_d_rejected_position_kl").scalars,
                    atol: 1e-6, rtol: 1e-3, "d/dKr")
    }

    func testTDPO2DetachesTheChosenKLOnly() throws {
        let g = try LossVariant.tdpo2.file(), r = try run(.tdpo2)
        let dm = marginDerivatives(r), dk = klDerivatives(r)
        assertClose(Array(dm[0..<4]), try g.floatTensor(named: "dloss_d_chosen_logps_margin").scalars, atol: 1e-7, rtol: 1e-4, "d/dMc")
        assertClose(Array(dm[4..<8]), try g.floatTensor(named: "dloss_d_rejected_logps_margin").scalars, atol: 1e-7, rtol: 1e-4, "d/dMr")
        XCTAssertEqual(try g.floatTensor(named: "dloss_d_chosen_position_kl").scalars, [0, 0, 0, 0])
        // Exactly zero: no gradient at all reaches the chosen rows' logits through the KL.
        let chosenRows = r.logitGradient[0..<(4 * 21 * r.vocab)]
        XCTAssertTrue(chosenRows.allSatisfy { $0 == 0 }, "chosen logits got a KL gradient")
        assertClose(dk[4..<8].map(Float.init), try g.floatTensor(named: "dloss_d_rejected_position_kl").scalars,
                    atol: 1e-6, rtol: 1e-3, "d/dKr")
    }
}
