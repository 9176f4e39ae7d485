import XCTest
import Autograd
import TensorCore

/// A bad shape is a clear error naming the op and the shapes, never a crash in a kernel.
final class ShapeErrorTests: XCTestCase {
    let tape = Tape(pool: .serial)
    func z(_ s: [Int]) -> Variable { Variable(Tensor(zeros: s)) }

    func assertShapeError(_ op: String, _ mentions: [String], file: StaticString = #filePath, line: UInt = #line,
                          _ body: () throws -> Any) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.hasPrefix(op + ":"), "message '\(message)' should start with '\(op):'", file: file, line: line)
            for m in mentions {
                XCTAssertTrue(message.contains(m), "message '\(message)' should mention \(m)", file: file, line: line)
            }
        }
    }

    func testMatmulInnerDimensionMismatchNamesBothShapes() {
        assertShapeError("matmul", ["[2, 3]", "[4, 5]"]) { try self.tape.matmul(self.z([2, 3]), self.z([4, 5])) }
    }

    func testLinearFeatureMismatchNamesInputAndWeight() {
        assertShapeError("linear", ["[2, 3]", "[5, 4]"]) { try self.tape.linear(self.z([2, 3]), weight: self.z([5, 4])) }
        assertShapeError("linear", ["[7]", "[5, 3]"]) { try self.tape.linear(self.z([2, 3]), weight: self.z([5, 3]), bias: self.z([7])) }
    }

    func testArithmeticWithNonBroadcastableShapes() {
        assertShapeError("add", ["[2, 3]", "[4]"]) { try self.tape.add(self.z([2, 3]), self.z([4])) }
        assertShapeError("mul", ["[2, 3]", "[3, 2]"]) { try self.tape.mul(self.z([2, 3]), self.z([3, 2])) }
    }

    func testNormWeightOfWrongWidth() {
        assertShapeError("layerNorm", ["[2, 4]", "[3]"]) { try self.tape.layerNorm(self.z([2, 4]), weight: self.z([3]), bias: self.z([4]), eps: 1e-5) }
        assertShapeError("rmsNorm", ["[2, 4]", "[5]"]) { try self.tape.rmsNorm(self.z([2, 4]), weight: self.z([5]), eps: 1e-5) }
    }

    func testAttentionHeadsThatDoNotGroup() {
        assertShapeError("attention", ["[1, 2, 3, 4]", "[1, 2, 2, 4]"]) {
            try self.tape.attention(query: self.z([1, 2, 3, 4]), key: self.z([1, 2, 2, 4]), value: self.z([1, 2, 2, 4]))
        }
        assertShapeError("attention", ["keyMask [1, 3]"]) {
            try self.tape.attention(query: self.z([1, 2, 2, 4]), key: self.z([1, 2, 2, 4]), value: self.z([1, 2, 2, 4]),
                                    keyMask: IndexTensor(shape: [1, 3], repeating: 1))
        }
    }

    func testRotaryWithWrongPositionCountOrOddDims() {
        assertShapeError("rotary", ["positions [5]", "[1, 2, 1, 4]"]) {
            try self.tape.rotary(self.z([1, 2, 1, 4]), positions: IndexTensor(shape: [5], repeating: 0), rotaryDims: 4, inverseFrequencies: [1, 1])
        }
        assertShapeError("rotary", ["rotaryDims 3"]) {
            try self.tape.rotary(self.z([1, 2, 1, 4]), positions: IndexTensor(shape: [2], repeating: 0), rotaryDims: 3, inverseFrequencies: [1])
        }
    }

    func testLabelLogProbsLabelsOfWrongShapeOrRange() {
        assertShapeError("labelLogProbs", ["[2, 3, 5]", "[2, 4]"]) {
            try self.tape.labelLogProbs(logits: self.z([2, 3, 5]), labels: IndexTensor(shape: [2, 4], repeating: 0))
        }
        assertShapeError("labelLogProbs", ["label 5", "[0, 5)"]) {
            try self.tape.labelLogProbs(logits: self.z([1, 2, 5]), labels: IndexTensor(shape: [1, 2], values: [0, 5]))
        }
    }

    func testEmbeddingIdOutsideTheTable() {
        assertShapeError("embedding", ["id 9", "[0, 4)"]) {
            try self.tape.embedding(IndexTensor(shape: [2], values: [1, 9]), table: self.z([4, 3]))
        }
    }

    func testConcatSplitReshapeAndSliceMismatches() {
        assertShapeError("concat", ["[2, 3]", "[3, 3]"]) { try self.tape.concat([self.z([2, 3]), self.z([3, 3])], axis: 1) }
        assertShapeError("split", ["[2, 5]", "[2, 2]"]) { try self.tape.split(self.z([2, 5]), sizes: [2, 2], axis: 1) }
        assertShapeError("reshape", ["[2, 3]", "[4, 2]"]) { try self.tape.reshape(self.z([2, 3]), [4, 2]) }
        assertShapeError("slice", ["2..<5", "[2, 3]"]) { try self.tape.slice(self.z([2, 3]), axis: 1, range: 2..<5) }
    }

    func testBackwardFromANonScalar() {
        let x = Variable(Tensor(zeros: [2]), requiresGrad: true)
        assertShapeError("backward", ["[2]"]) { try self.tape.backward(self.tape.square(x)) }
    }
}
