import XCTest
import Autograd
import TensorCore

/// The fused per-position KL (TDPO) against its composition from host ops and finite differences.
final class TokenKLTests: XCTestCase {
    /// `sum_v softmax(r) (log_softmax(r) - log_softmax(z))` over positions 0..<T-1, times the mask:
    /// what the TDPO plugin composes on hosts without `token_kl`.
    func composed(_ t: Tape, _ z: Variable, _ r: Variable, _ mask: Variable) throws -> Variable {
        let scored = 0..<(z.shape[1] - 1)
        let zs = try t.slice(z, axis: 1, range: scored), rs = try t.slice(r, axis: 1, range: scored)
        let kl = try t.sum(t.mul(t.softmax(rs), t.sub(t.logSoftmax(rs), t.logSoftmax(zs))), axis: -1)
        return try t.mul(kl, mask)
    }

    func mask(_ n: Int, _ t: Int) throws -> Variable {
        Variable(try Tensor(shape: [n, t - 1], values: (0..<(n * (t - 1))).map { $0 % 3 == 1 ? 0 : 1 }))
    }

    func testFusedKLEqualsTheComposedKLInValueAndBothGradients() throws {
        // vocab 37: SIMD blocks of 8 and a scalar tail.
        for (n, t, v) in [(2, 5, 37), (4, 3, 8), (1, 2, 5)] {
            var rng = SplitMix64(seed: UInt64(n * 100 + v))
            let zv = Tensor.randomNormal([n, t, v], scale: 3, using: &rng), rv = Tensor.randomNormal([n, t, v], scale: 3, using: &rng)
            let m = try mask(n, t)
            let weights = Variable(Tensor.randomNormal([n, t - 1], using: &rng))
            func run(_ fused: Bool) throws -> (out: [Float], dz: [Float], dr: [Float]) {
                let tape = Tape(pool: WorkerPool(threads: 2))
                let z = Variable(zv.copy(), requiresGrad: true), r = Variable(rv.copy(), requiresGrad: true)
                let out = fused ? try tape.tokenKL(policy: z, reference: r, mask: m) : try composed(tape, z, r, m)
                try tape.backward(try tape.sum(try tape.mul(out, weights)))
                return (out.value.scalars, z.grad!.scalars, r.grad!.scalars)
            }
            let a = try run(true), b = try run(false)
            for (x, y) in zip(a.out, b.out) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), "kl \(n)x\(t)x\(v)") }
            for (x, y) in zip(a.dz, b.dz) { XCTAssertEqual(x, y, accuracy: 1e-5, "policy gradient \(n)x\(t)x\(v)") }
            for (x, y) in zip(a.dr, b.dr) { XCTAssertEqual(x, y, accuracy: 1e-5, "reference gradient \(n)x\(t)x\(v)") }
            for (i, x) in a.out.enumerated() where m.value.scalars[i] == 0 { XCTAssertEqual(x, 0, "masked position \(i)") }
        }
    }

    func testFusedKLGradientsMatchFiniteDifferences() throws {
        for seed: UInt64 in [1, 2, 3] {
            var rng = SplitMix64(seed: seed)
            let inputs = [Tensor.randomNormal([2, 4, 11], using: &rng), Tensor.randomNormal([2, 4, 11], using: &rng)]
            let m = try mask(2, 4)
            let failure = try GradientCheck().run(inputs: inputs, seed: seed) { t, v in
                try t.tokenKL(policy: v[0], reference: v[1], mask: m)
            }
            XCTAssertNil(failure, "seed \(seed): \(failure.map(String.init(describing:)) ?? "")")
        }
    }

    func testKLOfIdenticalDistributionsIsZeroAndUnderflowsAreCounted() throws {
        let tape = Tape(pool: .serial)
        let same = Variable(try Tensor(shape: [1, 3, 4], values: [1, 2, 3, 4, 0, 0, 0, 0, 9, 9, 9, 9]))
        var zeros = -1
        let kl = try tape.tokenKL(policy: same, reference: same, mask: Variable(Tensor(shape: [1, 2], repeating: 1)), underflows: &zeros)
        XCTAssertEqual(kl.value.scalars[0], 0, accuracy: 1e-6)
        XCTAssertEqual(kl.value.scalars[1], 0, accuracy: 1e-6)
        XCTAssertEqual(zeros, 0)
        // exp(-300) is 0 in float32: the reference softmax underflows at the first position only.
        let extreme = Variable(try Tensor(shape: [1, 3, 4], values: [150, -150, -150, -150, 0, 0, 0, 0, 0, 0, 0, 0]))
        let finite = try tape.tokenKL(policy: same, reference: extreme, mask: Variable(Tensor(shape: [1, 2], repeating: 1)), underflows: &zeros)
        XCTAssertEqual(zeros, 1)
        XCTAssertTrue(finite.value.scalars.allSatisfy(\.isFinite))
    }

    func testShapeMismatchNamesTheOpAndShapes() throws {
        let tape = Tape(pool: .serial)
        let z = Variable(Tensor(zeros: [2, 3, 4])), r = Variable(Tensor(zeros: [2, 3, 5]))
        XCTAssertThrowsError(try tape.tokenKL(policy: z, reference: r, mask: Variable(Tensor(zeros: [2, 2])))) {
            XCTAssertTrue("\($0)".contains("tokenKL") && "\($0)".contains("[2, 3, 5]"), "\($0)")
        }
    }
}
