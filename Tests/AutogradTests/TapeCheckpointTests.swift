import XCTest
import Autograd
import TensorCore

/// `Tape.checkpoint` and `Tape.backward(from:gradient:)` against the same ops recorded plainly.
final class TapeCheckpointTests: XCTestCase {
    func v(_ shape: [Int], _ values: [Float], grad: Bool = false) throws -> Variable {
        Variable(try Tensor(shape: shape, values: values), requiresGrad: grad)
    }

    /// A residual block x + silu(x W^T), applied twice, then sum(y^2); gradients of x and W.
    func run(checkpointing: Bool, inputNeedsGrad: Bool) throws -> (loss: Float, dx: [Float]?, dw: [Float], ops: Int, blockRuns: Int) {
        let tape = Tape(pool: .serial)
        let x = try v([2, 3], [0.5, -1, 2, 0.25, 0, -0.75], grad: inputNeedsGrad)
        let w = try v([3, 3], [0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, -0.8, 0.9], grad: true)
        var blockRuns = 0
        let block = { (t: Tape, inputs: [Variable]) throws -> Variable in
            blockRuns += 1
            return try t.add(inputs[0], t.silu(t.linear(inputs[0], weight: w, bias: nil)))
        }
        var h = x
        for _ in 0..<2 { h = checkpointing ? try tape.checkpoint([h], dependencies: [w], block) : try block(tape, [h]) }
        let ops = tape.recordedOps
        let loss = try tape.sum(tape.square(h))
        try tape.backward(loss)
        return (loss.value.item, x.grad?.scalars, try XCTUnwrap(w.grad).scalars, ops, blockRuns)
    }

    func testCheckpointedBlocksGiveTheSameValuesAndGradientsAndKeepOneNodeEach() throws {
        let plain = try run(checkpointing: false, inputNeedsGrad: true)
        let checkpointed = try run(checkpointing: true, inputNeedsGrad: true)
        XCTAssertEqual(checkpointed.loss, plain.loss)
        XCTAssertEqual(checkpointed.dx, plain.dx)
        XCTAssertEqual(checkpointed.dw, plain.dw)
        XCTAssertEqual(plain.ops, 6)
        XCTAssertEqual(checkpointed.ops, 2)
        XCTAssertEqual(checkpointed.blockRuns, 4, "each block runs once forward, once in backward")
    }

    func testParametersGetGradientsWhenTheBlockInputNeedsNone() throws {
        let plain = try run(checkpointing: false, inputNeedsGrad: false)
        let checkpointed = try run(checkpointing: true, inputNeedsGrad: false)
        XCTAssertNil(checkpointed.dx)
        XCTAssertEqual(checkpointed.dw, plain.dw)
        XCTAssertEqual(checkpointed.ops, 2)
    }

    func testCheckpointOnANonRecordingTapeJustRunsTheBlock() throws {
        let tape = Tape(pool: .serial, recording: false)
        let w = try v([2], [2, 3], grad: true)
        var runs = 0
        let y = try tape.checkpoint([try v([2], [1, 1])], dependencies: [w]) { t, inputs in
            runs += 1
            return try t.mul(inputs[0], w)
        }
        XCTAssertEqual(y.value.scalars, [2, 3])
        XCTAssertEqual(runs, 1)
        XCTAssertEqual(tape.recordedOps, 0)
        XCTAssertFalse(y.requiresGrad)
    }

    func testBackwardFromAnOutputSeedsItsGradient() throws {
        let tape = Tape(pool: .serial)
        let x = try v([2], [1, 2], grad: true)
        let y = try tape.mul(x, x)
        try tape.backward(from: y, gradient: try Tensor(shape: [2], values: [10, 100]))
        XCTAssertEqual(x.grad?.scalars, [20, 400])   // d(x^2) = 2x * g
        XCTAssertEqual(tape.recordedOps, 0)
        XCTAssertThrowsError(try tape.backward(from: y, gradient: try Tensor(shape: [3], values: [1, 1, 1])))
    }
}
