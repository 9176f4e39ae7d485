import Autograd
import Objective
import PluginHost
import TensorCore
import Training
import XCTest

/// Metric keys exactly as the references log them (docs/spec/losses.md §2.6 and §3.3), with `{split}`
/// filled by the host, and reward accuracy with a strict `>`.
final class MetricNameTests: XCTestCase {
    func names(_ variant: LossVariant, split: LossMetricSplit, layout: LossBatchLayout = .preference) throws -> [String] {
        let tape = Tape(pool: .serial)
        let outcome = try LossComputation(plugin: try variant.plugin()).compute(try syntheticBatch(layout: layout),
                                                                              split: split, tape: tape)
        XCTAssertTrue(outcome.metrics.allSatisfy { $0.values.count == 2 }, "one value per example")
        return outcome.metrics.map(\.name)
    }

    static let dpoKeys = ["rewards_train/chosen", "rewards_train/rejected", "rewards_train/accuracies", "rewards_train/margins",
                          "logps_train/rejected", "logps_train/chosen", "loss/train"]

    func testDPOFamilyEmitsTheReferenceKeysInItsOrder() throws {
        for variant in [LossVariant.dpo, .cdpo, .ipo, .referenceFree, .averaged] {
            XCTAssertEqual(try names(variant, split: .train), Self.dpoKeys, variant.golden)
        }
    }

    func testEvaluationKeysCarryTheEvalSplit() throws {
        XCTAssertEqual(try names(.dpo, split: .eval), Self.dpoKeys.map { $0.replacingOccurrences(of: "train", with: "eval") })
    }

    func testTDPOAddsSequentialKLKeysWithASingularMargin() throws {
        let expected = ["rewards_train/chosen", "rewards_train/rejected", "rewards_train/accuracies", "rewards_train/margins",
                        "kl_train/chosen", "kl_train/rejected", "kl_train/margin",
                        "logps_train/rejected", "logps_train/chosen", "loss/train"]
        XCTAssertEqual(try names(.tdpo1, split: .train), expected)
        XCTAssertEqual(try names(.tdpo2, split: .train), expected)
    }

    func testSFTEmitsChosenLogProbsAndLoss() throws {
        XCTAssertEqual(try names(.sft, split: .train, layout: .chosenOnly), ["logps_train/chosen", "loss/train"])
    }

    func testPluginsEmitTheSplitPlaceholderAndTheHostFillsOnlyThat() {
        XCTAssertEqual(LossMetricSplit.train.qualify("rewards_{split}/chosen"), "rewards_train/chosen")
        XCTAssertEqual(LossMetricSplit.eval.qualify("loss/{split}"), "loss/eval")
        XCTAssertEqual(LossMetricSplit.eval.qualify("rewards_train/margins"), "rewards_train/margins", "names without it pass through")
    }

    /// Pair 0 ties exactly (both rewards -0.1), pair 1 wins, pair 2 loses: accuracies 0, 1, 0.
    func testAccuracyIsStrictSoTiesAreMisses() throws {
        var inputs = LossInputs(batchPairs: 3)
        inputs.policyChosenLogps = leaf([-5, -3, -9])
        inputs.policyRejectedLogps = leaf([-7, -8, -2])
        inputs.referenceChosenLogps = vector([-4, -4, -4])
        inputs.referenceRejectedLogps = vector([-6, -6, -6])
        let result = try LossVariant.dpo.plugin().compute(inputs, tape: Tape(pool: .serial))
        let chosen = try XCTUnwrap(result.metric("rewards_{split}/chosen")), rejected = try XCTUnwrap(result.metric("rewards_{split}/rejected"))
        XCTAssertEqual(chosen[0], rejected[0], "pair 0 is an exact tie")
        XCTAssertEqual(try XCTUnwrap(result.metric("rewards_{split}/accuracies")), [0, 1, 0])
        let margins = try XCTUnwrap(result.metric("rewards_{split}/margins"))
        for i in 0..<3 { XCTAssertEqual(margins[i], chosen[i] - rejected[i], accuracy: 1e-6) }
    }

    func testTDPOKLMarginIsChosenMinusRejected() throws {
        let tape = Tape(pool: .serial)
        let outcome = try LossComputation(plugin: try LossVariant.tdpo1.plugin()).compute(try syntheticBatch(), split: .train, tape: tape)
        let kc = try XCTUnwrap(outcome.metric("kl_train/chosen")), kr = try XCTUnwrap(outcome.metric("kl_train/rejected"))
        let margin = try XCTUnwrap(outcome.metric("kl_train/margin"))
        XCTAssertTrue(kc.allSatisfy { $0 > 0 } && kr.allSatisfy { $0 > 0 }, "a KL between different distributions is positive")
        for i in 0..<2 { XCTAssertEqual(margin[i], kc[i] - kr[i], accuracy: 1e-6) }
    }
}
