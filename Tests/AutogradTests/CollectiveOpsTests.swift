import XCTest
import Autograd
import TensorCore

/// The tensor-parallel autograd ops with the other rank simulated by the injected collective.
final class CollectiveOpsTests: XCTestCase {
    func t(_ shape: [Int], _ values: [Float]) throws -> Tensor { try Tensor(shape: shape, values: values) }

    func testAllReduceForwardSumsAndPassesTheGradientThrough() throws {
        let tape = Tape(pool: .serial)
        let x = Variable(try t([2], [1, 2]), requiresGrad: true)
        let other = try t([2], [10, 20])
        let y = try tape.allReduceForward(x) { mine in
            let out = Tensor(zeros: mine.shape)
            for i in 0..<mine.count { out.pointer[i] = mine.pointer[i] + other.pointer[i] }
            return out
        }
        XCTAssertEqual(y.value.scalars, [11, 22])
        try tape.backward(try tape.sum(tape.mul(y, Variable(try t([2], [3, 5])))))
        XCTAssertEqual(x.grad?.scalars, [3, 5])
    }

    func testAllReduceBackwardIsTheIdentityForwardAndSumsGradients() throws {
        let tape = Tape(pool: .serial)
        let x = Variable(try t([2], [1, 2]), requiresGrad: true)
        let othersGradient = try t([2], [100, 200])
        let y = tape.allReduceBackward(x) { mine in
            let out = Tensor(zeros: mine.shape)
            for i in 0..<mine.count { out.pointer[i] = mine.pointer[i] + othersGradient.pointer[i] }
            return out
        }
        XCTAssertEqual(y.value.scalars, [1, 2])
        try tape.backward(try tape.sum(tape.mul(y, Variable(try t([2], [3, 5])))))
        XCTAssertEqual(x.grad?.scalars, [103, 205])
    }

    func testAllGatherLastAxisKeepsThisRanksColumnsOfTheGradient() throws {
        let tape = Tape(pool: .serial)
        // Rank 1 of 2: its [2, 1] block comes second in every row.
        let x = Variable(try t([2, 1], [1, 2]), requiresGrad: true)
        let y = try tape.allGatherLastAxis(x, part: 1, parts: 2) { mine in
            try Tensor(shape: [2, 2], values: [7, mine.pointer[0], 8, mine.pointer[1]])
        }
        XCTAssertEqual(y.value.scalars, [7, 1, 8, 2])
        try tape.backward(try tape.sum(tape.mul(y, Variable(try t([2, 2], [1, 2, 3, 4])))))
        XCTAssertEqual(x.grad?.scalars, [2, 4])
    }

    func testACollectiveReturningTheWrongShapeIsAnError() throws {
        let tape = Tape(pool: .serial)
        let x = Variable(try t([2], [1, 2]))
        XCTAssertThrowsError(try tape.allReduceForward(x) { _ in Tensor(zeros: [3]) })
        XCTAssertThrowsError(try tape.allGatherLastAxis(x, part: 0, parts: 2) { _ in Tensor(zeros: [3]) })
    }
}
