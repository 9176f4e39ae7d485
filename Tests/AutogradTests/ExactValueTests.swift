import XCTest
import Autograd
import TensorCore

/// Small cases computed by hand (or with a calculator), checked value by value.
final class ExactValueTests: XCTestCase {
    let tape = Tape(pool: .serial)

    func v(_ shape: [Int], _ values: [Float], grad: Bool = false) throws -> Variable {
        Variable(try Tensor(shape: shape, values: values), requiresGrad: grad)
    }

    func assertClose(_ a: [Float], _ b: [Float], tol: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "count", file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tol, "\(a) vs \(b)", file: file, line: line) }
    }

    func testMatmulOfTwoByTwoMatrices() throws {
        let y = try tape.matmul(v([2, 2], [1, 2, 3, 4]), v([2, 2], [5, 6, 7, 8]))
        XCTAssertEqual(y.value.scalars, [19, 22, 43, 50])
    }

    func testLinearWithPyTorchLayoutAddsBias() throws {
        // x [1,2] = [1, 2]; W [out=3, in=2]; y = x W^T + b
        let y = try tape.linear(v([1, 2], [1, 2]), weight: v([3, 2], [1, 0, 0, 1, 1, 1]), bias: v([3], [0.5, 0, -1]))
        XCTAssertEqual(y.value.scalars, [1.5, 2, 2])
    }

    func testLinearWithConv1DLayoutMatchesTransposedWeight() throws {
        let y = try tape.linear(v([1, 2], [1, 2]), weight: v([2, 3], [1, 0, 1, 0, 1, 1]), bias: nil, layout: .inOut)
        XCTAssertEqual(y.value.scalars, [1, 2, 3])
    }

    func testBroadcastAddOfRowAndColumn() throws {
        let y = try tape.add(v([2, 1], [10, 20]), v([3], [1, 2, 3]))
        XCTAssertEqual(y.shape, [2, 3])
        XCTAssertEqual(y.value.scalars, [11, 12, 13, 21, 22, 23])
    }

    func testBroadcastGradientSumsOverExpandedAxes() throws {
        let a = try v([2, 3], [1, 2, 3, 4, 5, 6], grad: true), b = try v([3], [1, 1, 1], grad: true)
        try tape.backward(tape.sum(tape.mul(a, b)))
        XCTAssertEqual(b.grad?.scalars, [5, 7, 9])
        XCTAssertEqual(a.grad?.scalars, [1, 1, 1, 1, 1, 1])
    }

    func testSumAndMeanAlongAxis() throws {
        let x = try v([2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try tape.sum(x, axis: 0).value.scalars, [5, 7, 9])
        XCTAssertEqual(try tape.mean(x, axis: 1).value.scalars, [2, 5])
        XCTAssertEqual(try tape.sum(x).value.item, 21)
    }

    func testLayerNormNormalisesWithBiasedVariance() throws {
        // mean 2.5, biased var 1.25
        let y = try tape.layerNorm(v([1, 4], [1, 2, 3, 4]), weight: v([4], [1, 1, 1, 1]), bias: v([4], [0, 0, 0, 1]), eps: 0)
        let s = 1 / Float(1.25).squareRoot()
        assertClose(y.value.scalars, [-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s + 1])
    }

    func testRMSNormHasNoMeanSubtraction() throws {
        // rms of [3, 4] = sqrt(12.5)
        let y = try tape.rmsNorm(v([1, 2], [3, 4]), weight: v([2], [1, 2]), eps: 0)
        let r = Float(12.5).squareRoot()
        assertClose(y.value.scalars, [3 / r, 8 / r])
    }

    func testGELUFormsDifferAsSpecified() throws {
        let x = try v([2], [1, -2])
        assertClose(try tape.gelu(x, approximation: .erf).value.scalars, [0.8413447, -0.04550026])
        assertClose(try tape.gelu(x, approximation: .tanh).value.scalars, [0.8411920, -0.04540231])
    }

    func testSiLUSigmoidAndLogSigmoid() throws {
        let x = try v([3], [0, 2, -100])
        assertClose(try tape.sigmoid(x).value.scalars, [0.5, 0.8807971, 0])
        assertClose(try tape.silu(x).value.scalars, [0, 1.7615942, 0])
        // log-sigmoid stays finite far into the negative tail
        assertClose(try tape.logSigmoid(x).value.scalars, [-0.6931472, -0.12692801, -100], tol: 1e-4)
    }

    func testSoftmaxAndLogSoftmaxOfARow() throws {
        let x = try v([1, 3], [1, 2, 3])
        let e = [Float(1), Foundation.exp(1), Foundation.exp(2)], z = e.reduce(0, +)
        assertClose(try tape.softmax(x).value.scalars, e.map { $0 / z })
        assertClose(try tape.logSoftmax(x).value.scalars, e.map { Foundation.log($0 / z) })
    }

    func testEmbeddingPicksRows() throws {
        let table = try v([3, 2], [0, 1, 10, 11, 20, 21])
        let y = try tape.embedding(IndexTensor(shape: [2, 2], values: [2, 0, 1, 2]), table: table)
        XCTAssertEqual(y.shape, [2, 2, 2])
        XCTAssertEqual(y.value.scalars, [20, 21, 0, 1, 10, 11, 20, 21])
    }

    func testAttentionWithOneKeyCopiesItsValue() throws {
        // T=2: query 0 only sees key 0, so its output is value 0 exactly.
        let q = try v([1, 2, 1, 2], [1, 0, 0, 1]), k = try v([1, 2, 1, 2], [1, 0, 0, 1])
        let val = try v([1, 2, 1, 2], [5, 6, 7, 8])
        let y = try tape.attention(query: q, key: k, value: val).value.scalars
        assertClose(Array(y[0..<2]), [5, 6])
        // query 1 = [0, 1]: scores [0, 1/sqrt 2] -> weights softmax
        let w1 = 1 / (1 + Foundation.exp(Float(1) / Float(2).squareRoot()))
        assertClose(Array(y[2..<4]), [w1 * 5 + (1 - w1) * 7, w1 * 6 + (1 - w1) * 8])
    }

    func testAttentionSkipsPaddedKeysAndZeroesQueriesWithNoVisibleKey() throws {
        // Key 0 is padding: query 0 sees nothing (zeros); query 1 sees only key 1 (its value).
        // A NaN score of a hidden key must not reach the softmax; a hidden value gets weight 0.
        let q = try v([1, 2, 1, 1], [1, 1]), k = try v([1, 2, 1, 1], [Float.nan, 1])
        let val = try v([1, 2, 1, 1], [1e30, 3])
        let mask = try IndexTensor(shape: [1, 2], values: [0, 1])
        let y = try tape.attention(query: q, key: k, value: val, keyMask: mask).value.scalars
        XCTAssertEqual(y, [0, 3])
    }

    func testRotaryRotatesHalfPairsByPositionTimesFrequency() throws {
        // d=4, r=4: pairs (0,2) and (1,3); inv_freq = [1, 1/100] for base 10000.
        let x = try v([1, 2, 1, 4], [1, 2, 3, 4, 1, 2, 3, 4])
        let inv = RotaryKernel.inverseFrequencies(rotaryDims: 4, base: 10000)
        assertClose(inv, [1, 0.01])
        let y = try tape.rotary(x, positions: IndexTensor(shape: [2], values: [0, 1]), rotaryDims: 4, inverseFrequencies: inv).value.scalars
        assertClose(Array(y[0..<4]), [1, 2, 3, 4])   // position 0 is the identity
        let (c0, s0, c1, s1) = (cos(Float(1)), sin(Float(1)), cos(Float(0.01)), sin(Float(0.01)))
        assertClose(Array(y[4..<8]), [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1])
    }

    func testPartialRotaryLeavesTrailingDimsUnchanged() throws {
        let x = try v([1, 1, 1, 4], [1, 2, 3, 4])
        let y = try tape.rotary(x, positions: IndexTensor(shape: [1], values: [5]), rotaryDims: 2,
                                inverseFrequencies: [1]).value.scalars
        assertClose(y, [1 * cos(5) - 2 * sin(5), 2 * cos(5) + 1 * sin(5), 3, 4])
    }

    func testLabelLogProbsShiftByOneAndZeroIgnoredLabels() throws {
        // logits at t predict the label at t+1
        let logits = try v([1, 3, 2], [0, 0, 1, 0, 5, 5])
        let labels = try IndexTensor(shape: [1, 3], values: [7, 0, -100])
        let y = try tape.labelLogProbs(logits: logits, labels: labels).value.scalars
        assertClose(y, [-Foundation.log(2), 0])
    }

    func testConcatThenSplitRoundTrips() throws {
        let a = try v([2, 1], [1, 2]), b = try v([2, 2], [3, 4, 5, 6])
        let c = try tape.concat([a, b], axis: 1)
        XCTAssertEqual(c.value.scalars, [1, 3, 4, 2, 5, 6])
        let parts = try tape.split(c, sizes: [1, 2], axis: 1)
        XCTAssertEqual(parts[0].value.scalars, [1, 2])
        XCTAssertEqual(parts[1].value.scalars, [3, 4, 5, 6])
    }

    func testGradientsAccumulateAcrossBackwardCallsUntilZeroed() throws {
        let w = try v([2], [1, 2], grad: true)
        for _ in 0..<2 { try tape.backward(tape.sum(tape.scale(w, 3))) }
        XCTAssertEqual(w.grad?.scalars, [6, 6])
        w.zeroGrad()
        XCTAssertEqual(w.grad?.scalars, [0, 0])
    }

    func testNoGradTapeRecordsNothing() throws {
        let w = try v([2], [1, 2], grad: true)
        let frozen = Tape(pool: .serial, recording: false)
        let y = try frozen.sum(frozen.square(w))
        XCTAssertFalse(y.requiresGrad)
        XCTAssertEqual(frozen.recordedOps, 0)
        XCTAssertThrowsError(try frozen.backward(y))
    }

    func testBackwardReleasesRecordedActivations() throws {
        let w = try v([2], [1, 2], grad: true)
        let t = Tape(pool: .serial)
        let hidden = try t.square(w)
        try t.backward(t.sum(hidden))
        XCTAssertEqual(t.recordedOps, 0)
        XCTAssertNil(hidden.grad)          // intermediate gradient freed
        XCTAssertEqual(w.grad?.scalars, [2, 4])
    }
}
