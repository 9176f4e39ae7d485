import XCTest
import Autograd
import TensorCore

/// A first gradient written without zero-filling it (products with beta 0, `0 + dy` copies) has
/// the bits of one accumulated into zeros, and ops spread over workers give one thread's bits.
final class FirstGradientTests: XCTestCase {
    private var savedGemmThreads = 1

    // Creating a pool sets the process-wide product split; put it back.
    override func setUp() { savedGemmThreads = Gemm.threads }
    override func tearDown() { Gemm.threads = savedGemmThreads }

    func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.randomNormal(shape, using: &rng)
    }

    func bits(_ t: Tensor?) -> [UInt32] { t?.scalars.map(\.bitPattern) ?? [] }

    /// Leaves NaN-filled buffers of these shapes' sizes in the buffer cache (for those of at least
    /// 1 MiB), so uninitialised gradients of those sizes start as NaN: an element that a kernel
    /// fails to write shows.
    func dirtyCache(_ shapes: [[Int]], copies: Int = 3) {
        let storages = shapes.flatMap { shape in
            (0..<copies).map { _ in TensorStorage(count: Tensor.elementCount(shape), zeroed: false) }
        }
        for s in storages { s.pointer.update(repeating: .nan, count: s.count) }
    }

    func testLinearBackwardWithoutAPriorGradientHasTheBitsOfOneIntoZeros() throws {
        // K = 520 spans several OpenBLAS K blocks; the products are split over two workers.
        let rows = 520, inFeatures = 520, outFeatures = 300
        for layout in [LinearLayout.outIn, .inOut] {
            let wShape = layout == .outIn ? [outFeatures, inFeatures] : [inFeatures, outFeatures]
            let xv = random([rows, inFeatures], seed: 1), wv = random(wShape, seed: 2)
            let bv = random([outFeatures], seed: 3), cv = random([rows, outFeatures], seed: 4)
            // passes 2: the second backward adds into the first one's gradients (beta 1).
            func gradients(preZeroed: Bool, passes: Int) throws -> [[UInt32]] {
                let tape = Tape(pool: WorkerPool(threads: 2))
                let x = Variable(xv, requiresGrad: true), w = Variable(wv, requiresGrad: true)
                let b = Variable(bv, requiresGrad: true)
                if preZeroed {
                    x.setGrad(Tensor(zeros: x.shape))
                    w.setGrad(Tensor(zeros: w.shape))
                } else {
                    dirtyCache([x.shape, w.shape])
                }
                for _ in 0..<passes {
                    let y = try tape.linear(x, weight: w, bias: b, layout: layout)
                    try tape.backward(tape.sum(tape.mul(y, Variable(cv))))
                }
                return [bits(x.grad), bits(w.grad), bits(b.grad)]
            }
            for passes in [1, 2] {
                let fresh = try gradients(preZeroed: false, passes: passes)
                XCTAssertEqual(fresh, try gradients(preZeroed: true, passes: passes), "\(layout), \(passes) passes")
                XCTAssertFalse(fresh.joined().contains { Float(bitPattern: $0).isNaN }, "\(layout)")
            }
        }
    }

    func testMatmulBackwardWithoutAPriorGradientHasTheBitsOfOneIntoZeros() throws {
        // (a shape, b shape, transposeA, transposeB); the last case multiplies x by itself, so
        // both gradients go into one buffer: the second product must add to the first.
        let cases: [([Int], [Int], Bool, Bool)] = [
            ([3, 130, 300], [300, 270], false, false),
            ([300, 130], [300, 270], true, false),
            ([130, 300], [270, 300], false, true),
            ([4, 130, 300], [4, 300, 270], false, false),
            ([4, 300, 130], [4, 270, 300], true, true),
        ]
        for (index, (aShape, bShape, ta, tb)) in cases.enumerated() {
            let av = random(aShape, seed: UInt64(10 + index)), bv = random(bShape, seed: UInt64(20 + index))
            func gradients(preZeroed: Bool) throws -> [[UInt32]] {
                let tape = Tape(pool: WorkerPool(threads: 2))
                let a = Variable(av, requiresGrad: true), b = Variable(bv, requiresGrad: true)
                if preZeroed { a.setGrad(Tensor(zeros: a.shape)); b.setGrad(Tensor(zeros: b.shape)) }
                let y = try tape.matmul(a, b, transposeA: ta, transposeB: tb)
                try tape.backward(tape.sum(tape.mul(y, Variable(random(y.shape, seed: 30)))))
                return [bits(a.grad), bits(b.grad)]
            }
            XCTAssertEqual(try gradients(preZeroed: false), try gradients(preZeroed: true), "case \(index)")
        }
        let xv = random([150, 200], seed: 40)
        func selfProduct(preZeroed: Bool) throws -> [UInt32] {
            let tape = Tape(pool: WorkerPool(threads: 2))
            let x = Variable(xv, requiresGrad: true)
            if preZeroed { x.setGrad(Tensor(zeros: x.shape)) }
            let y = try tape.matmul(x, x, transposeB: true)
            try tape.backward(tape.sum(tape.mul(y, Variable(random(y.shape, seed: 41)))))
            return bits(x.grad)
        }
        XCTAssertEqual(try selfProduct(preZeroed: false), try selfProduct(preZeroed: true))
    }

    func testAFirstGradientThroughAViewTurnsNegativeZeroIntoPositiveZero() throws {
        // Adding -0 into a zero-filled buffer gives +0; a first gradient written without the
        // zero-fill must give the same bits, including through a strided (transposed) view.
        let tape = Tape(pool: .serial)
        let x = Variable(random([2, 3], seed: 50), requiresGrad: true)
        let y = try tape.transpose(x, 0, 1)
        let g = try Tensor(shape: [3, 2], values: [-0.0, 1, -2, -0.0, 0, 3])
        try tape.backward(from: y, gradient: g)
        XCTAssertEqual(bits(x.grad), [Float](arrayLiteral: 0, -2, 0, 1, 0, 3).map(\.bitPattern))
    }

    func testAPythiaLikeBlockGivesTheSameBitsOnOneOrThreeWorkers() throws {
        // Fused QKV linear, reshape, split, elementwise ops and residual add, large enough that
        // the copies, sums, bias rows and column sums are split over the workers.
        let (batch, length, hidden, heads) = (4, 128, 192, 4)
        let headDim = hidden / heads
        let xv = random([batch, length, hidden], seed: 60), wv = random([3 * hidden, hidden], seed: 61)
        let bv = random([3 * hidden], seed: 62), cv = random([batch, hidden, length], seed: 63)
        func run(_ pool: WorkerPool) throws -> [[UInt32]] {
            let tape = Tape(pool: pool)
            let x = Variable(xv, requiresGrad: true), w = Variable(wv, requiresGrad: true)
            let b = Variable(bv, requiresGrad: true)
            let qkv = try tape.reshape(tape.linear(x, weight: w, bias: b), [batch, length, heads, 3 * headDim])
            let parts = try tape.split(qkv, sizes: [headDim, headDim, headDim], axis: 3)
            let mixed = try tape.mul(tape.sub(parts[0], parts[1]), parts[2])
            let out = try tape.add(x, tape.reshape(mixed, [batch, length, hidden]))
            let loss = try tape.sum(tape.mul(tape.transpose(out, 1, 2), Variable(cv)))
            try tape.backward(loss)
            return [bits(out.value), bits(x.grad), bits(w.grad), bits(b.grad)]
        }
        XCTAssertEqual(try run(WorkerPool(threads: 3)), try run(.serial))
    }
}
