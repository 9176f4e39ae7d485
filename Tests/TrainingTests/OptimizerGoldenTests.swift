import Autograd
import Checkpoint
import Foundation
import Model
import TensorCore
import Training
import XCTest

/// Optimizers, clipping and the warmup schedule reproduce fixtures/golden/optim (PyTorch).
final class OptimizerGoldenTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
    let optim = try! SafeTensorsFile(path: fixtures.appendingPathComponent("golden/optim.safetensors").path)
    let dpo = try! SafeTensorsFile(path: fixtures.appendingPathComponent("golden/loss-dpo.safetensors").path)

    /// transformers 5 names NeoX's output matrix `lm_head.weight` in memory (so in the goldens)
    /// while the checkpoint file stores it as `embed_out.weight`.
    func goldenName(_ name: String) -> String { name == "embed_out.weight" ? "lm_head.weight" : name }

    /// pythia-tiny's parameters with the DPO golden gradient attached.
    func parametersWithGoldenGradient() throws -> [NamedParameter] {
        let model = try ModelDirectory(path: Self.fixtures.appendingPathComponent("models/pythia-tiny").path)
        return try model.tensorNames.map { name in
            let v = Variable(try model.floatTensor(named: name).copy(), requiresGrad: true)
            v.setGrad(try dpo.floatTensor(named: "grad." + goldenName(name)).copy())
            return NamedParameter(name: name, variable: v)
        }
    }

    func assertParameters(_ params: [NamedParameter], match prefix: String, atol: Float,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(params.count, 28, file: file, line: line)
        for p in params {
            let expected = try optim.floatTensor(named: prefix + goldenName(p.name)).scalars
            let actual = p.variable.value.scalars
            let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, atol, "\(prefix)\(p.name)", file: file, line: line)
        }
    }

    func testRMSpropThreeStepsMatchPyTorch() throws {
        let params = try parametersWithGoldenGradient()
        let opt = RMSprop()
        for _ in 0..<3 { try opt.step(params, lr: 1e-3, pool: .serial) }
        try assertParameters(params, match: "rmsprop.", atol: 2e-6)
        XCTAssertEqual(opt.stepCount, 3)
    }

    func testAdamWThreeStepsMatchPyTorch() throws {
        let params = try parametersWithGoldenGradient()
        let opt = try OptimizerFactory.make("AdamW")
        for _ in 0..<3 { try opt.step(params, lr: 1e-3, pool: WorkerPool(threads: 2)) }
        try assertParameters(params, match: "adamw.", atol: 2e-6)
    }

    func testClippingReportsThePreClipNormAndScalesGradients() throws {
        let params = try parametersWithGoldenGradient()
        let norm = GradientClipping.clip(params, maxNorm: 0.5)
        let expected = try optim.floatTensor(named: "clip.total_norm").item
        XCTAssertEqual(norm, expected, accuracy: expected * 1e-5)
        for p in params {
            let want = try optim.floatTensor(named: "clip.grad." + goldenName(p.name)).scalars
            for (a, b) in zip(p.variable.grad!.scalars, want) {
                XCTAssertEqual(a, b, accuracy: 1e-5 * max(abs(b), 1e-3), p.name)
            }
        }
    }

    func testClippingLeavesSmallGradientsAlone() throws {
        let v = Variable(Tensor(zeros: [2]), requiresGrad: true)
        v.setGrad(try Tensor(shape: [2], values: [3, 4]))
        XCTAssertEqual(GradientClipping.clip([NamedParameter(name: "w", variable: v)], maxNorm: 10), 5)
        XCTAssertEqual(v.grad?.scalars, [3, 4])
    }

    func testWarmupScheduleMatchesTheReferenceLambda() throws {
        let schedule = LearningRateSchedule(baseLearningRate: Double(Float(1e-3)), warmupSteps: 4)
        let multipliers = try optim.floatTensor(named: "schedule.lr_multiplier").scalars
        let rates = try optim.floatTensor(named: "schedule.lr").scalars
        for s in 0..<8 {
            XCTAssertEqual(Float(schedule.multiplier(completedSteps: s)), multipliers[s], accuracy: 1e-7)
            XCTAssertEqual(schedule.learningRate(completedSteps: s), rates[s], accuracy: 1e-9)
        }
    }

    func testOptimizerStateRoundTripsByParameterName() throws {
        let params = try parametersWithGoldenGradient()
        let a = RMSprop()
        try a.step(params, lr: 1e-3, pool: .serial)
        let b = RMSprop()
        try b.loadState(a.stateTensors(), stepCount: a.stepCount, parameters: params)
        XCTAssertEqual(b.stepCount, 1)
        XCTAssertEqual(Set(b.stateTensors().keys), Set(params.map { $0.name + ".square_avg" }))
        XCTAssertThrowsError(try b.loadState(["nope.square_avg": Tensor(zeros: [1])], stepCount: 1, parameters: params)) {
            XCTAssertTrue(String(describing: $0).contains("nope.square_avg"))
        }
    }

    func testUnknownOptimizerNameIsAClearError() {
        XCTAssertThrowsError(try OptimizerFactory.make("Adagrad")) {
            XCTAssertTrue(String(describing: $0).contains("Adagrad"))
        }
    }
}
