import Autograd
import DataPipeline
import TensorCore
import XCTest
@testable import PluginHost

/// The examples a user would write, built with `cc` and run through the host.
final class ExamplePluginTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Build.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// pc, pr (policy, with gradient) and qc, qr (reference) for 4 pairs; pair 3 sits in the
    /// hinge's flat region (beta*h > 1), so its gradient must be exactly zero.
    let pc: [Float] = [-10, -12, -8, -2], pr: [Float] = [-11, -9, -8.5, -30]
    let qc: [Float] = [-10.5, -11, -9, -6], qr: [Float] = [-10, -10, -8, -7]

    func sequenceInputs(_ tape: Tape) throws -> (LossInputs, Variable, Variable) {
        let policyChosen = Variable(try Tensor(shape: [4], values: pc), requiresGrad: true)
        let policyRejected = Variable(try Tensor(shape: [4], values: pr), requiresGrad: true)
        var inputs = LossInputs(batchPairs: 4)
        inputs.policyChosenLogps = policyChosen
        inputs.policyRejectedLogps = policyRejected
        inputs.referenceChosenLogps = Variable(try Tensor(shape: [4], values: qc))
        inputs.referenceRejectedLogps = Variable(try Tensor(shape: [4], values: qr))
        return (inputs, policyChosen, policyRejected)
    }

    func testTheCHingeLossValueAndGradientMatchAnIndependentComputation() throws {
        let plugin = try PluginLoader.load(path: try Build.example("examples/hinge-loss/hinge.c", into: dir))
        let beta: Float = 0.5
        let loss = try LossPlugin(plugin, options: ["beta": "0.5"])
        XCTAssertEqual(loss.needs, .sequence)

        let tape = Tape(pool: .serial)
        let (inputs, policyChosen, policyRejected) = try sequenceInputs(tape)
        let result = try loss.compute(inputs, tape: tape)
        try tape.backward(result.loss)

        // Independent: l_i = max(0, 1 - beta*h_i); dl/dpc_i = -beta/B where active, dl/dpr_i = +beta/B.
        let h = (0..<4).map { Double(pc[$0] - pr[$0]) - Double(qc[$0] - qr[$0]) }
        let per = h.map { max(0, 1 - Double(beta) * $0) }
        XCTAssertEqual(Double(result.loss.value.item), per.reduce(0, +) / 4, accuracy: 1e-5)
        let active = per.map { $0 > 0 ? 1.0 : 0.0 }
        XCTAssertEqual(active, [1, 1, 1, 0], "the test data spans both sides of the hinge")
        for i in 0..<4 {
            XCTAssertEqual(Double(policyChosen.grad!.scalars[i]), -Double(beta) / 4 * active[i], accuracy: 1e-6)
            XCTAssertEqual(Double(policyRejected.grad!.scalars[i]), Double(beta) / 4 * active[i], accuracy: 1e-6)
        }
        // Names as the plugin emits them: the host puts train or eval in place of {split} (LossComputation).
        let margins = try XCTUnwrap(result.metric("rewards_{split}/margins"))
        for i in 0..<4 { XCTAssertEqual(Double(margins[i]), Double(beta) * h[i], accuracy: 1e-5) }
        XCTAssertEqual(result.metrics.map(\.name),
                       ["rewards_{split}/chosen", "rewards_{split}/rejected", "rewards_{split}/margins", "loss/{split}"])
    }

    func testTheSwiftAPOZeroLossMatchesItsFormula() throws {
        let path = Build.products.appendingPathComponent("libExampleSwiftLoss.so").path
        let plugin = try PluginLoader.load(path: path)
        XCTAssertEqual(plugin.name, "apo_zero")
        let loss = try LossPlugin(plugin, options: ["beta": "0.2"])
        let tape = Tape(pool: .serial)
        let (inputs, policyChosen, policyRejected) = try sequenceInputs(tape)
        let result = try loss.compute(inputs, tape: tape)
        try tape.backward(result.loss)

        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        let beta = 0.2
        var expected = 0.0
        for i in 0..<4 {
            let dw = Double(pc[i] - qc[i]), dl = Double(pr[i] - qr[i])
            expected += (1 - sigmoid(beta * dw) + sigmoid(beta * dl)) / 4
            let sw = sigmoid(beta * dw), sl = sigmoid(beta * dl)
            XCTAssertEqual(Double(policyChosen.grad!.scalars[i]), -beta * sw * (1 - sw) / 4, accuracy: 1e-6)
            XCTAssertEqual(Double(policyRejected.grad!.scalars[i]), beta * sl * (1 - sl) / 4, accuracy: 1e-6)
        }
        XCTAssertEqual(Double(result.loss.value.item), expected, accuracy: 1e-5)
        XCTAssertEqual(result.metrics.map(\.name), ["rewards_{split}/chosen", "rewards_{split}/rejected", "loss/{split}"])
        let perExample = try XCTUnwrap(result.metric("loss/{split}"))
        XCTAssertEqual(Double(perExample.reduce(0, +)) / 4, expected, accuracy: 1e-5)
    }

    func testTheCDatasetYieldsMergedRecordsInFileOrder() throws {
        let plugin = try PluginLoader.load(path: try Build.example("examples/mydata/mydata.c", into: dir))
        let tsv = dir.appendingPathComponent("pairs.tsv")
        try """
        # prompt\tchosen\trejected
        \\n\\nHuman: hi\\n\\nAssistant:\t hello\t go away
        \\n\\nHuman: 2+2?\\n\\nAssistant:\t 4\t 5

        \\n\\nHuman: hi\\n\\nAssistant:\t hey there\t whatever

        """.write(to: tsv, atomically: true, encoding: .utf8)
        let data = try DatasetPlugin(plugin, options: ["path": tsv.path])
        XCTAssertEqual(data.truncationMode, .keepStart)
        let records = try data.load(split: "train")
        XCTAssertEqual(records, [
            PromptRecord(prompt: "\n\nHuman: hi\n\nAssistant:", responses: [" hello", " go away", " hey there", " whatever"],
                          pairs: [.init(0, 1), .init(2, 3)], sftTarget: " hello"),
            PromptRecord(prompt: "\n\nHuman: 2+2?\n\nAssistant:", responses: [" 4", " 5"],
                          pairs: [.init(0, 1)], sftTarget: " 4"),
        ])
        XCTAssertEqual(try data.load(split: "test"), [], "no test_path: an empty test split")
    }

    func testADatasetErrorNamesTheFileAndLine() throws {
        let plugin = try PluginLoader.load(path: try Build.example("examples/mydata/mydata.c", into: dir))
        let tsv = dir.appendingPathComponent("broken.tsv")
        try "p\tc\tr\nonly a prompt\tand one response\n".write(to: tsv, atomically: true, encoding: .utf8)
        let data = try DatasetPlugin(plugin, options: ["path": tsv.path])
        XCTAssertThrowsPluginError(try data.load(split: "train"),
                                   contains: ["plugin 'mydata' failed in load(train)", "\(tsv.path):2:", "expected 3 tab-separated fields"])
        let missing = try DatasetPlugin(plugin, options: ["path": dir.appendingPathComponent("nope.tsv").path])
        XCTAssertThrowsPluginError(try missing.load(split: "train"), contains: ["nope.tsv", "No such file"])
    }

    func testALossWhoseCallFailsShowsThePluginsMessage() throws {
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "fails", defines: ["COMPUTE_FAILS"])
        let loss = try LossPlugin(try PluginLoader.load(path: path))
        let tape = Tape(pool: .serial)
        XCTAssertThrowsPluginError(try loss.compute(try sequenceInputs(tape).0, tape: tape),
                                   contains: ["plugin 'broken' failed in compute", "the reference log-probs are missing"])
    }
}
