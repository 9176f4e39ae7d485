import Autograd
import Foundation
import Model
import TensorCore
import Training
import XCTest

/// The optimizers' one-pass update (all parameters spread over the pool in blocks, 8 floats at a
/// time, the gradient zeroed right after it is read) gives bit-for-bit the parameters and state
/// of the plain per-element update followed by `zeroGrad`, at any thread count.
final class FusedOptimizerTests: XCTestCase {
    /// Sizes that cross the block size and leave SIMD tails, plus a few tiny ones.
    static let shapes: [[Int]] = [[3], [8], [17], [70_001], [5, 13], [1 << 15, 1], [257, 129]]

    func parameters(seed: UInt64) -> [NamedParameter] {
        var rng = SplitMix64(seed: seed)
        return Self.shapes.enumerated().map { i, shape in
            let v = Variable(Tensor.randomNormal(shape, scale: 0.5, using: &rng), requiresGrad: true)
            v.setGrad(Tensor.randomNormal(shape, scale: 0.1, using: &rng))
            return NamedParameter(name: "p\(i)", variable: v)
        }
    }

    /// The scalar formulas of `torch.optim.RMSprop` / `Adam(W)`, one element at a time.
    func reference(_ name: String, _ params: [NamedParameter], steps: Int, lr: Float) -> [[Float]] {
        params.map { p in
            var w = p.variable.value.scalars
            let g = p.variable.grad!.scalars
            var s0 = [Float](repeating: 0, count: w.count), s1 = s0
            for k in 1...steps {
                let bc1 = 1 - Float(pow(Double(Float(0.9)), Double(k))), bc2 = 1 - Float(pow(Double(Float(0.999)), Double(k)))
                for i in w.indices {
                    // Only the first step sees the gradient: the fused step zeroes it.
                    let gi = k == 1 ? g[i] : 0
                    switch name {
                    case "RMSprop":
                        s0[i] = 0.99 * s0[i] + (1 - 0.99) * gi * gi
                        w[i] -= lr * gi / (s0[i].squareRoot() + 1e-8)
                    default:  // AdamW, weight decay 0.01
                        w[i] *= 1 - lr * 0.01
                        s0[i] = 0.9 * s0[i] + (1 - 0.9) * gi
                        s1[i] = 0.999 * s1[i] + (1 - 0.999) * gi * gi
                        w[i] -= (lr / bc1) * s0[i] / (s1[i].squareRoot() / bc2.squareRoot() + 1e-8)
                    }
                }
            }
            return w
        }
    }

    func check(_ name: String) throws {
        for threads in [1, 2, 3] {
            let params = parameters(seed: 11)
            let expected = reference(name, params, steps: 2, lr: 1e-2)
            let opt = try OptimizerFactory.make(name)
            for _ in 0..<2 { try opt.step(params, lr: 1e-2, zeroingGradients: true, pool: WorkerPool(threads: threads)) }
            for (p, want) in zip(params, expected) {
                XCTAssertEqual(p.variable.value.scalars, want, "\(name) \(p.name) threads \(threads)")
                XCTAssertTrue(p.variable.grad!.scalars.allSatisfy { $0 == 0 }, "\(name) \(p.name): gradient not zeroed")
            }
        }
    }

    func testRMSpropFusedWithZeroingMatchesTheScalarUpdate() throws { try check("RMSprop") }

    func testAdamWFusedWithZeroingMatchesTheScalarUpdate() throws { try check("AdamW") }

    /// Clipping's coefficient given to the step gives bit for bit what scaling the gradients in
    /// place and then stepping gives (the trainer's clipping no longer rewrites the gradients).
    func testAGradientScaleEqualsClippingTheGradientsFirst() throws {
        for name in ["RMSprop", "AdamW", "SGD"] {
            let scaled = parameters(seed: 5), clipped = parameters(seed: 5)
            let (norm, coefficient) = GradientClipping.coefficient(scaled, maxNorm: 1, pool: WorkerPool(threads: 2))
            XCTAssertLessThan(coefficient, 1, "the test gradients must be clipped")
            XCTAssertEqual(GradientClipping.clip(clipped, maxNorm: 1, pool: WorkerPool(threads: 2)), norm)
            try OptimizerFactory.make(name).step(scaled, lr: 1e-2, gradientScale: coefficient, zeroingGradients: true,
                                                 pool: WorkerPool(threads: 2))
            try OptimizerFactory.make(name).step(clipped, lr: 1e-2, zeroingGradients: true, pool: WorkerPool(threads: 2))
            for (a, b) in zip(scaled, clipped) {
                XCTAssertEqual(a.variable.value.scalars, b.variable.value.scalars, "\(name) \(a.name)")
            }
        }
    }

    /// Without zeroing the gradient stays as it was (clipping and logging may still read it).
    func testStepWithoutZeroingKeepsTheGradient() throws {
        let params = parameters(seed: 3)
        let before = params.map { $0.variable.grad!.scalars }
        try RMSprop().step(params, lr: 1e-3, pool: WorkerPool(threads: 2))
        XCTAssertEqual(params.map { $0.variable.grad!.scalars }, before)
    }

    /// One gradient shared by two entries: both updates see it, then it is zeroed.
    func testASharedGradientIsReadByEveryEntryBeforeZeroing() throws {
        let a = Variable(try Tensor(shape: [4], values: [1, 2, 3, 4]), requiresGrad: true)
        a.setGrad(try Tensor(shape: [4], values: [0.5, -0.5, 1, -1]))
        let b = Variable(try Tensor(shape: [4], values: [1, 2, 3, 4]), requiresGrad: true)
        b.setGrad(a.grad)
        try RMSprop().step([NamedParameter(name: "a", variable: a), NamedParameter(name: "b", variable: b)],
                           lr: 0.1, zeroingGradients: true, pool: .serial)
        XCTAssertEqual(a.value.scalars, b.value.scalars)
        XCTAssertNotEqual(b.value.scalars, [1, 2, 3, 4])
        XCTAssertEqual(a.grad!.scalars, [0, 0, 0, 0])
    }
}
