import Autograd
import Objective
import PluginHost
import Training
import XCTest

/// What `dpohost plugins list` / `plugins info` print comes from the descriptors: every zoo loss
/// states its formula in a one-line description, and where TRL and EasyDeL differ, which it follows.
final class ZooDescriptionTests: XCTestCase {
    func descriptor(_ name: String) throws -> PluginDescriptor {
        try Zoo.registry().resolve(kind: .loss, name: name).descriptor
    }

    func testEveryZooLossIsRegisteredWithAOneLineDescriptionAndOptionHelp() throws {
        let registered = Set(try Zoo.registry().plugins(kind: .loss).map(\.name))
        XCTAssertTrue(Set(Zoo.losses).isSubset(of: registered), "missing: \(Set(Zoo.losses).subtracting(registered))")
        for name in Zoo.losses {
            let d = try descriptor(name)
            XCTAssertFalse(d.summary.isEmpty, name)
            XCTAssertFalse(d.summary.contains("\n"), "\(name): one line")
            for o in d.options {
                XCTAssertGreaterThan(o.help.count, 20, "\(name).\(o.name)")
                XCTAssertFalse(o.help.contains("\n"), "\(name).\(o.name): one line")
            }
        }
    }

    func testDescriptionsStateTheFormula() throws {
        let formulas = [
            "hinge": "max(0, 1 - beta*h)",
            "robust": "/ (1-2*eps)",
            "exo_pair": "s*(logsig(beta*h) - log(1-eps)) + (1-s)*(logsig(-beta*h) - log(eps))",
            "nca_pair": "-logsig(beta*Dw) - 0.5*logsig(-beta*Dw) - 0.5*logsig(-beta*Dl)",
            "bco_pair": "-logsig(beta*Dw - d) - logsig(-(beta*Dl - d))",
            "sppo_hard": "(Dw - 1/(2*beta))^2 + (Dl + 1/(2*beta))^2",
            "aot": "sort(pc-pr) - sort(qc-qr)",
            "aot_pair": "sort(Dw) - sort(Dl)",
            "apo_zero": "(1 - sigmoid(beta*Dw)) + sigmoid(beta*Dl)",
            "apo_down": "sigmoid(beta*Dw) + (1 - sigmoid(beta*h))",
            "discopop": "(1-w)*(-logsig(x)) + w*exp(-x)",
            "rpo": "alpha * token-mean NLL",
            "simpo": "pc/lc - pr/lr - gamma/beta",
        ]
        XCTAssertEqual(Set(formulas.keys), Set(Zoo.losses))
        for (name, formula) in formulas {
            let summary = try descriptor(name).summary
            XCTAssertTrue(summary.contains(formula), "\(name): '\(summary)'")
        }
    }

    func testWhereTheLibrariesDifferTheChoiceIsStated() throws {
        XCTAssertTrue(try descriptor("bco_pair").summary.contains("(default, EasyDeL)"))
        XCTAssertTrue(try descriptor("discopop").summary.contains("tau default 0.05 as in TRL (EasyDeL: 1)"))
        XCTAssertTrue(try descriptor("exo_pair").summary.contains("default 1e-3, TRL<=0.27"))
        let help = try descriptor("bco_pair").options.first { $0.name == "delta" }?.help ?? ""
        XCTAssertTrue(help.contains("running (TRL<=0.27") && help.contains("zero (TRL HEAD)"), help)
    }

    /// Through the real input builder: each plugin declares the input levels it reads and emits
    /// the DPO reference's keys in its order (rpo adds its NLL term last).
    func testEveryZooLossRunsOnARealBatchAndEmitsTheDPOKeys() throws {
        let keys = ["rewards_train/chosen", "rewards_train/rejected", "rewards_train/accuracies", "rewards_train/margins",
                    "logps_train/rejected", "logps_train/chosen", "loss/train"]
        for name in Zoo.losses {
            let tape = Tape(pool: .serial)
            let batch = try syntheticBatch()
            let outcome = try LossComputation(plugin: try Zoo.loss(name)).compute(batch, split: .train, tape: tape)
            XCTAssertEqual(outcome.metrics.map(\.name), name == "rpo" ? keys + ["nll_loss/train"] : keys, name)
            XCTAssertTrue(outcome.metrics.allSatisfy { $0.values.count == 2 }, "\(name): one value per pair")
            XCTAssertTrue(outcome.loss.value.item.isFinite, name)
            try tape.backward(outcome.loss)
            let grad = try XCTUnwrap(batch.policyLogits.grad, "\(name): no gradient reached the policy logits")
            XCTAssertTrue(grad.scalars.contains { $0 != 0 }, "\(name): zero gradient on the policy logits")
        }
    }
}
