import XCTest
import Autograd
import TensorCore

/// Every op's backward agrees with central finite differences, on random shapes and several seeds.
final class FiniteDifferenceTests: XCTestCase {
    let seeds: [UInt64] = [1, 2, 3]

    /// Runs `f` on random inputs of `shapes` for each seed and fails on any mismatch.
    func assertGradients(_ shapes: [[Int]], differentiable: Set<Int>? = nil, scale: Float = 1,
                         positive: Bool = false, check: GradientCheck = GradientCheck(),
                         file: StaticString = #filePath, line: UInt = #line,
                         _ f: @escaping (Tape, [Variable], inout SplitMix64) throws -> Variable) throws {
        for seed in seeds {
            var rng = SplitMix64(seed: seed)
            let inputs = shapes.map { shape -> Tensor in
                let t = Tensor.randomNormal(shape, scale: scale, using: &rng)
                if positive { for i in 0..<t.count { t.pointer[i] = abs(t.pointer[i]) + 0.5 } }
                return t
            }
            let opSeed = rng.next()
            let failure = try check.run(inputs: inputs, differentiable: differentiable, seed: seed) { tape, vars in
                var local = SplitMix64(seed: opSeed)   // same op arguments for every evaluation
                return try f(tape, vars, &local)
            }
            XCTAssertNil(failure, "seed \(seed): \(failure.map(String.init(describing:)) ?? "")", file: file, line: line)
        }
    }

    func testMatmulGradientsForEveryTransposeCombination() throws {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = ta ? [4, 3] : [3, 4], b = tb ? [5, 4] : [4, 5]
            try assertGradients([a, b]) { t, v, _ in try t.matmul(v[0], v[1], transposeA: ta, transposeB: tb) }
        }
    }

    func testBatchedMatmulGradients() throws {
        try assertGradients([[2, 3, 4], [2, 4, 5]]) { t, v, _ in try t.matmul(v[0], v[1]) }
        try assertGradients([[2, 4, 3], [2, 5, 4]]) { t, v, _ in try t.matmul(v[0], v[1], transposeA: true, transposeB: true) }
    }

    func testMatmulFoldsLeadingAxesOfTheLeftOperand() throws {
        try assertGradients([[2, 3, 4], [4, 5]]) { t, v, _ in try t.matmul(v[0], v[1]) }
    }

    func testLinearGradientsInBothWeightLayouts() throws {
        try assertGradients([[2, 3, 4], [5, 4], [5]]) { t, v, _ in try t.linear(v[0], weight: v[1], bias: v[2], layout: .outIn) }
        try assertGradients([[2, 3, 4], [4, 5], [5]]) { t, v, _ in try t.linear(v[0], weight: v[1], bias: v[2], layout: .inOut) }
        try assertGradients([[3, 4], [5, 4]]) { t, v, _ in try t.linear(v[0], weight: v[1]) }
    }

    func testLoRALinearGradientsInBothWeightLayoutsWithAFrozenBase() throws {
        // x, W, bias, A [r, in], B [out, r]: the base weight and bias frozen, as LoRA trains.
        try assertGradients([[2, 3, 4], [5, 4], [5], [2, 4], [5, 2]], differentiable: [0, 3, 4]) { t, v, _ in
            try t.loraLinear(v[0], weight: v[1], bias: v[2], layout: .outIn, a: v[3], b: v[4], scale: 1.5)
        }
        try assertGradients([[2, 3, 4], [4, 5], [5], [2, 4], [5, 2]], differentiable: [0, 3, 4]) { t, v, _ in
            try t.loraLinear(v[0], weight: v[1], bias: v[2], layout: .inOut, a: v[3], b: v[4], scale: 0.5)
        }
    }

    func testLoRALinearGradientsWithEveryParameterTrainedAndNoBias() throws {
        try assertGradients([[3, 4], [5, 4], [3, 4], [5, 3]]) { t, v, _ in
            try t.loraLinear(v[0], weight: v[1], a: v[2], b: v[3], scale: 2)
        }
    }

    func testLoRALinearGradientsWithADropoutMaskOnTheAdapterInputOnly() throws {
        try assertGradients([[2, 3, 4], [4, 5], [2, 4], [5, 2]]) { t, v, rng in
            let mask = Tensor(zeros: [2, 3, 4])
            for i in 0..<mask.count where rng.nextUniform() >= 0.3 { mask.pointer[i] = 1 / 0.7 }
            return try t.loraLinear(v[0], weight: v[1], layout: .inOut, a: v[2], b: v[3], scale: 1, dropoutMask: mask)
        }
    }

    func testLoRALinearEqualsTheBaseLinearPlusTheScaledLowRankProduct() throws {
        var rng = SplitMix64(seed: 3)
        let x = Variable(Tensor.randomNormal([4, 6], scale: 1, using: &rng)), w = Variable(Tensor.randomNormal([6, 5], scale: 1, using: &rng))
        let a = Variable(Tensor.randomNormal([2, 6], scale: 1, using: &rng)), b = Variable(Tensor.randomNormal([5, 2], scale: 1, using: &rng))
        let tape = Tape(pool: .serial, recording: false)
        let fused = try tape.loraLinear(x, weight: w, layout: .inOut, a: a, b: b, scale: 0.25).value.scalars
        let composed = try tape.add(tape.linear(x, weight: w, layout: .inOut),
                                    tape.scale(tape.linear(tape.linear(x, weight: a), weight: b), 0.25)).value.scalars
        for (f, c) in zip(fused, composed) { XCTAssertEqual(f, c, accuracy: 1e-5 * max(1, abs(c))) }
    }

    func testBroadcastingArithmeticGradients() throws {
        let pairs: [([Int], [Int])] = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [4]), ([2, 1, 4], [3, 1]), ([3, 1], [1, 5]), ([4], [])]
        for (a, b) in pairs {
            try assertGradients([a, b]) { t, v, _ in try t.add(v[0], v[1]) }
            try assertGradients([a, b]) { t, v, _ in try t.sub(v[0], v[1]) }
            try assertGradients([a, b]) { t, v, _ in try t.mul(v[0], v[1]) }
            try assertGradients([a, b], positive: true) { t, v, _ in try t.div(v[0], v[1]) }
        }
    }

    func testScaleNegAndAddScalarGradients() throws {
        try assertGradients([[3, 4]]) { t, v, _ in try t.scale(v[0], -2.5) }
        try assertGradients([[3, 4]]) { t, v, _ in try t.neg(v[0]) }
        try assertGradients([[3, 4]]) { t, v, _ in try t.addScalar(v[0], 3) }
    }

    func testSumAndMeanGradientsOverEachAxis() throws {
        for axis in [0, 1, 2, -1] {
            for keep in [false, true] {
                try assertGradients([[2, 3, 4]]) { t, v, _ in try t.sum(v[0], axis: axis, keepDims: keep) }
                try assertGradients([[2, 3, 4]]) { t, v, _ in try t.mean(v[0], axis: axis, keepDims: keep) }
            }
        }
        try assertGradients([[2, 3, 4]]) { t, v, _ in try t.sum(v[0]) }
        try assertGradients([[2, 3, 4]]) { t, v, _ in try t.mean(v[0]) }
    }

    func testEmbeddingScatterAddsRepeatedIds() throws {
        try assertGradients([[7, 5]]) { t, v, rng in
            let ids = (0..<12).map { _ in Int32(rng.next() % 7) } + [3, 3, 3]
            return try t.embedding(IndexTensor(shape: [3, 5], values: ids), table: v[0])
        }
    }

    func testLayerNormGradients() throws {
        try assertGradients([[2, 3, 6], [6], [6]], check: GradientCheck(step: 3e-3)) { t, v, _ in
            try t.layerNorm(v[0], weight: v[1], bias: v[2], eps: 1e-5)
        }
    }

    func testRMSNormGradients() throws {
        try assertGradients([[2, 3, 6], [6]], check: GradientCheck(step: 3e-3)) { t, v, _ in
            try t.rmsNorm(v[0], weight: v[1], eps: 1e-6)
        }
    }

    func testActivationGradients() throws {
        try assertGradients([[3, 5]]) { t, v, _ in try t.gelu(v[0], approximation: .erf) }
        try assertGradients([[3, 5]]) { t, v, _ in try t.gelu(v[0], approximation: .tanh) }
        try assertGradients([[3, 5]]) { t, v, _ in try t.silu(v[0]) }
        try assertGradients([[3, 5]]) { t, v, _ in try t.sigmoid(v[0]) }
        try assertGradients([[3, 5]], scale: 4) { t, v, _ in try t.logSigmoid(v[0]) }
        try assertGradients([[3, 5]]) { t, v, _ in try t.square(v[0]) }
        try assertGradients([[3, 5]]) { t, v, _ in try t.exp(v[0]) }
        try assertGradients([[3, 5]], positive: true) { t, v, _ in try t.log(v[0]) }
    }

    func testReluGradientAwayFromZero() throws {
        // inputs at least 0.5 away from the kink, half of them negative
        try assertGradients([[4, 6]], positive: true) { t, v, _ in
            let signs = try Tensor(shape: [4, 6], values: (0..<24).map { $0 % 2 == 0 ? 1 : -1 })
            return try t.relu(t.mul(v[0], Variable(signs)))
        }
    }

    func testSoftmaxAndLogSoftmaxGradients() throws {
        try assertGradients([[2, 3, 7]]) { t, v, _ in try t.softmax(v[0]) }
        try assertGradients([[2, 3, 7]]) { t, v, _ in try t.logSoftmax(v[0]) }
    }

    func testAttentionGradientsWithPaddingMask() throws {
        // B=2, T=5, H=2, d=4; row 1 has its last two keys padded.
        try assertGradients([[2, 5, 2, 4], [2, 5, 2, 4], [2, 5, 2, 4]]) { t, v, _ in
            let mask = try IndexTensor(shape: [2, 5], values: [1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
            return try t.attention(query: v[0], key: v[1], value: v[2], keyMask: mask)
        }
    }

    func testAttentionGradientsWithGroupedQueryHeads() throws {
        // 4 query heads share 2 key/value heads.
        try assertGradients([[2, 4, 4, 3], [2, 4, 2, 3], [2, 4, 2, 3]]) { t, v, _ in
            try t.attention(query: v[0], key: v[1], value: v[2])
        }
    }

    func testAttentionGradientsWithLeftPaddingAndCachedKeys() throws {
        // Tq=2 queries over Tk=5 keys (three cached), first key of row 0 is left padding.
        try assertGradients([[2, 2, 2, 4], [2, 5, 1, 4], [2, 5, 1, 4]]) { t, v, _ in
            let mask = try IndexTensor(shape: [2, 5], values: [0, 1, 1, 1, 1, 1, 1, 1, 1, 1])
            return try t.attention(query: v[0], key: v[1], value: v[2], keyMask: mask, scale: 0.7)
        }
    }

    func testSmallHeadAttentionGradientsWithPaddingGroupsAndCachedKeys() throws {
        // Head sizes 8 and 16 take the small-head kernel (AttentionSmallHead.swift).
        XCTAssertTrue(AttentionKernel.usesSmallHeadKernel(AttentionShape(
            batch: 2, queryLength: 3, keyLength: 5, queryHeads: 2, keyValueHeads: 1, headDim: 16)))
        for d in [8, 16] {
            try assertGradients([[2, 3, 2, d], [2, 5, 1, d], [2, 5, 1, d]]) { t, v, _ in
                let mask = try IndexTensor(shape: [2, 5], values: [0, 1, 1, 1, 1, 1, 1, 1, 0, 1])
                return try t.attention(query: v[0], key: v[1], value: v[2], keyMask: mask, scale: 0.6)
            }
        }
    }

    func testTiledAttentionGradientsWithPaddingGroupsAndCachedKeys() throws {
        // The tiled path (AttentionTiled.swift), forced at these short lengths: padded keys,
        // grouped heads, cached keys before the queries, a row whose first query sees only padding.
        let saved = AttentionKernel.forcedMethod
        AttentionKernel.forcedMethod = .tiled
        defer { AttentionKernel.forcedMethod = saved }
        for d in [4, 16] {
            try assertGradients([[2, 3, 2, d], [2, 5, 1, d], [2, 5, 1, d]]) { t, v, _ in
                let mask = try IndexTensor(shape: [2, 5], values: [0, 0, 0, 1, 1, 1, 1, 1, 0, 1])
                return try t.attention(query: v[0], key: v[1], value: v[2], keyMask: mask, scale: 0.6)
            }
        }
    }

    func testRotaryGradientsFullAndPartial() throws {
        for r in [8, 4, 2] {
            try assertGradients([[2, 3, 2, 8]]) { t, v, _ in
                try t.rotary(v[0], positions: IndexTensor(shape: [3], values: [0, 1, 2]), rotaryDims: r,
                             inverseFrequencies: RotaryKernel.inverseFrequencies(rotaryDims: r, base: 10000))
            }
        }
    }

    func testRotaryGradientsWithPerRowPositions() throws {
        try assertGradients([[2, 3, 1, 4]]) { t, v, _ in
            try t.rotary(v[0], positions: IndexTensor(shape: [2, 3], values: [0, 1, 2, 1, 1, 2]), rotaryDims: 4,
                         inverseFrequencies: RotaryKernel.inverseFrequencies(rotaryDims: 4, base: 100))
        }
    }

    func testLabelLogProbsGradientsWithIgnoredLabels() throws {
        try assertGradients([[3, 5, 6]]) { t, v, _ in
            let labels = try IndexTensor(shape: [3, 5], values: [-100, 1, 2, 3, 4,
                                                                  -100, -100, 5, 0, -100,
                                                                  2, 2, 2, -100, -100])
            return try t.labelLogProbs(logits: v[0], labels: labels)
        }
    }

    func testShapeOpGradients() throws {
        try assertGradients([[2, 3, 4]]) { t, v, _ in try t.reshape(v[0], [6, -1]) }
        try assertGradients([[2, 3, 4]]) { t, v, _ in try t.transpose(v[0], 0, 2) }
        try assertGradients([[2, 5, 4]]) { t, v, _ in try t.slice(v[0], axis: 1, range: 1..<4) }
        try assertGradients([[2, 3], [2, 4]]) { t, v, _ in try t.concat([v[0], v[1]], axis: 1) }
        try assertGradients([[2, 7]]) { t, v, _ in
            let parts = try t.split(v[0], sizes: [2, 5], axis: 1)
            return try t.concat([parts[1], t.scale(parts[0], 3)], axis: 1)
        }
    }

    func testPrefixedRowsGradientsSumOverTheRowsThatShareAPrefix() throws {
        // 6 rows after 2 prefix rows (each read by 3 rows), 3 positions after 2, heads of [2, 2].
        try assertGradients([[6, 3, 2, 2], [2, 2, 2, 2]]) { t, v, _ in try t.prefixed(v[0], with: v[1]) }
        try assertGradients([[2, 1, 3], [2, 4, 3]]) { t, v, _ in try t.prefixed(v[0], with: v[1]) }
    }

    func testPrefixedRowsPutEachRowAfterItsPrefixRow() throws {
        let tape = Tape(pool: .serial)
        let x = Variable(try Tensor(shape: [4, 1, 1], values: [10, 11, 12, 13]))
        let prefix = Variable(try Tensor(shape: [2, 2, 1], values: [1, 2, 3, 4]))
        XCTAssertEqual(try tape.prefixed(x, with: prefix).value.scalars, [1, 2, 10, 3, 4, 11, 1, 2, 12, 3, 4, 13])
        XCTAssertThrowsError(try tape.prefixed(Variable(Tensor(zeros: [3, 1, 1])), with: prefix))
        XCTAssertThrowsError(try tape.prefixed(Variable(Tensor(zeros: [4, 1, 2])), with: prefix))
    }

    func testRandomlyShapedModelPiecesAgreeWithFiniteDifferences() throws {
        // Shapes themselves drawn at random per seed: a norm + linear + attention + rotary block.
        for seed: UInt64 in [11, 12, 13, 14] {
            var rng = SplitMix64(seed: seed)
            func dim(_ lo: Int, _ hi: Int) -> Int { lo + Int(rng.next() % UInt64(hi - lo + 1)) }
            let (b, t, kv, group, d) = (dim(1, 2), dim(1, 4), dim(1, 2), dim(1, 2), 2 * dim(1, 3))
            let h = kv * group, width = h * d
            let mask = (0..<(b * t)).map { i in Int32(i % t == 0 || rng.next() % 4 != 0 ? 1 : 0) }
            let r = 2 * dim(0, d / 2)
            let inputs = [[b, t, width], [width], [h * d, width], [kv * d, width], [kv * d, width]]
                .map { Tensor.randomNormal($0, scale: 0.7, using: &rng) }
            let failure = try GradientCheck(step: 3e-3).run(inputs: inputs, seed: seed) { tp, v in
                let x = try tp.rmsNorm(v[0], weight: v[1], eps: 1e-6)
                let q = try tp.reshape(tp.linear(x, weight: v[2]), [b, t, h, d])
                let k = try tp.reshape(tp.linear(x, weight: v[3]), [b, t, kv, d])
                let val = try tp.reshape(tp.linear(x, weight: v[4]), [b, t, kv, d])
                let pos = try IndexTensor(shape: [t], values: (0..<t).map(Int32.init))
                let inv = RotaryKernel.inverseFrequencies(rotaryDims: r, base: 10000)
                let qr = try tp.rotary(q, positions: pos, rotaryDims: r, inverseFrequencies: inv)
                let kr = try tp.rotary(k, positions: pos, rotaryDims: r, inverseFrequencies: inv)
                return try tp.attention(query: qr, key: kr, value: val, keyMask: IndexTensor(shape: [b, t], values: mask))
            }
            XCTAssertNil(failure, "seed \(seed) shapes b\(b) t\(t) h\(h) kv\(kv) d\(d) r\(r): \(failure.map(String.init(describing:)) ?? "")")
        }
    }

    func testDetachStopsTheGradient() throws {
        let x = Variable(Tensor(shape: [3], repeating: 2), requiresGrad: true)
        let tape = Tape(pool: .serial)
        let y = try tape.add(tape.square(x), tape.square(tape.detach(x)))
        try tape.backward(tape.sum(y))
        XCTAssertEqual(x.grad?.scalars, [4, 4, 4])   // only the first square contributes 2x
    }
}
