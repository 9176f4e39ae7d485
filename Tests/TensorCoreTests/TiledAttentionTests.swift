import Foundation
import TensorCore
import XCTest

/// The tiled attention kernel computes what the matrix-product path computes, keeping one
/// log-sum-exp per query row instead of the probabilities.
final class TiledAttentionTests: XCTestCase {
    /// Several query tiles and key blocks with partial last ones (small tilings) or one of each
    /// (the standard tiling); Tq < Tk puts a prefix of keys (a cache, a shared prompt) first;
    /// padded keys at the start, the end and inside a row; a left padding long enough that whole
    /// blocks of a row, and its first queries, see no key; a row that is all padding.
    let cases = [
        AttentionCase(shape: AttentionShape(batch: 2, queryLength: 150, keyLength: 150, queryHeads: 4, keyValueHeads: 2, headDim: 32),
             mask: nil),
        AttentionCase(shape: AttentionShape(batch: 2, queryLength: 37, keyLength: 300, queryHeads: 2, keyValueHeads: 1, headDim: 16),
             mask: (0..<600).map { $0 == 0 || $0 == 299 || $0 == 350 || $0 == 580 ? 0 : 1 }),
        AttentionCase(shape: AttentionShape(batch: 1, queryLength: 70, keyLength: 70, queryHeads: 3, keyValueHeads: 1, headDim: 8),
             mask: (0..<70).map { $0 < 45 ? 0 : 1 }),
        AttentionCase(shape: AttentionShape(batch: 2, queryLength: 20, keyLength: 33, queryHeads: 2, keyValueHeads: 2, headDim: 12),
             mask: (0..<66).map { $0 < 33 ? 1 : 0 }),
        // Heads of 48 and of 64 (the base shape's), one with a prefix of keys and one padded key.
        AttentionCase(shape: AttentionShape(batch: 1, queryLength: 90, keyLength: 90, queryHeads: 2, keyValueHeads: 2, headDim: 48),
             mask: nil),
        AttentionCase(shape: AttentionShape(batch: 1, queryLength: 50, keyLength: 80, queryHeads: 2, keyValueHeads: 1, headDim: 64),
             mask: (0..<80).map { $0 == 60 ? 0 : 1 }),
    ]

    /// Tiles smaller than the rows (several per row, partial last ones) and the standard tiling.
    let tilings = [AttentionTiling(queries: 16, keys: 40), AttentionTiling(queries: 7, keys: 8), AttentionTiling.standard]

    func name(_ t: AttentionTiling) -> String { "tiles \(t.queries)×\(t.keys)" }

    func random(_ count: Int, seed: UInt64) -> [Float] { attentionTestValues(count, seed: seed) }

    struct Inputs {
        let q, k, v, dOut: [Float]
    }

    func inputs(_ s: AttentionShape, seed: UInt64) -> Inputs {
        let q = random(s.batch * s.queryLength * s.queryHeads * s.headDim, seed: seed)
        let k = random(s.batch * s.keyLength * s.keyValueHeads * s.headDim, seed: seed + 1)
        return Inputs(q: q, k: k, v: random(k.count, seed: seed + 2), dOut: random(q.count, seed: seed + 3))
    }

    func testForwardMatchesTheMatrixProductPath() {
        for c in cases {
            let s = c.shape, x = inputs(s, seed: 1)
            var expected = [Float](repeating: 9, count: x.q.count), probs = [Float](repeating: 0, count: s.probabilityCount)
            AttentionKernel.forwardProducts(q: x.q, k: x.k, v: x.v, keyMask: c.mask, scale: 0.3, shape: s,
                                            out: &expected, probs: &probs, pool: .serial)
            for tiling in tilings {
                var out = [Float](repeating: 9, count: x.q.count)
                var lse = [Float](repeating: 9, count: AttentionKernel.logSumExpCount(s))
                AttentionKernel.forwardTiled(q: x.q, k: x.k, v: x.v, keyMask: c.mask, scale: 0.3, shape: s,
                                             out: &out, logSumExp: &lse, tiling: tiling, pool: WorkerPool(threads: 2))
                assertClose(out, expected, "output \(s) \(name(tiling))")
            }
        }
    }

    func testLogSumExpIsTheSoftmaxDenominatorOverVisibleKeys() {
        let c = cases[1], s = c.shape, x = inputs(s, seed: 2)
        var out = [Float](repeating: 0, count: x.q.count), lse = [Float](repeating: 0, count: AttentionKernel.logSumExpCount(s))
        AttentionKernel.forwardTiled(q: x.q, k: x.k, v: x.v, keyMask: c.mask, scale: 0.3, shape: s,
                                     out: &out, logSumExp: &lse, tiling: AttentionTiling(queries: 16, keys: 40), pool: .serial)
        let d = s.headDim, ldq = s.queryHeads * d, ldk = s.keyValueHeads * d
        for b in 0..<s.batch { for h in 0..<s.queryHeads { for i in [0, 17, s.queryLength - 1] {
            var sum = 0.0
            for j in 0...(i + s.offset) where c.mask![b * s.keyLength + j] != 0 {
                var dot = 0.0
                for e in 0..<d { dot += Double(x.q[(b * s.queryLength + i) * ldq + h * d + e]) * Double(x.k[(b * s.keyLength + j) * ldk + e]) }
                sum += Foundation.exp(0.3 * dot)
            }
            let got = lse[(b * s.queryHeads + h) * s.queryLength + i]
            XCTAssertEqual(Double(got), Foundation.log(sum), accuracy: 1e-5 * max(1, abs(Foundation.log(sum))), "b \(b) h \(h) i \(i)")
        } } }
    }

    func testQueriesWithoutVisibleKeysOutputZerosAndInfiniteLogSumExp() {
        let c = cases[2], s = c.shape, x = inputs(s, seed: 3)
        var out = [Float](repeating: 9, count: x.q.count), lse = [Float](repeating: 0, count: AttentionKernel.logSumExpCount(s))
        AttentionKernel.forwardTiled(q: x.q, k: x.k, v: x.v, keyMask: c.mask, scale: 0.3, shape: s,
                                     out: &out, logSumExp: &lse, tiling: AttentionTiling(queries: 16, keys: 40), pool: .serial)
        let width = s.queryHeads * s.headDim
        // Queries 0...44 see only padding (keys 0...44); query 45 sees key 45.
        XCTAssertTrue(out[0..<(45 * width)].allSatisfy { $0 == 0 })
        XCTAssertFalse(out[(45 * width)..<(46 * width)].allSatisfy { $0 == 0 })
        for h in 0..<s.queryHeads {
            XCTAssertTrue(lse[(h * s.queryLength)..<(h * s.queryLength + 45)].allSatisfy { $0 == .infinity })
            XCTAssertTrue(lse[h * s.queryLength + 45].isFinite)
        }
    }

    func testBackwardMatchesTheMatrixProductPath() {
        for c in cases {
            let s = c.shape, x = inputs(s, seed: 4)
            var out = [Float](repeating: 0, count: x.q.count), probs = [Float](repeating: 0, count: s.probabilityCount)
            AttentionKernel.forwardProducts(q: x.q, k: x.k, v: x.v, keyMask: c.mask, scale: 0.3, shape: s,
                                            out: &out, probs: &probs, pool: .serial)
            // Both accumulate onto what the gradients already hold.
            let dq0 = random(x.q.count, seed: 8), dk0 = random(x.k.count, seed: 9), dv0 = random(x.v.count, seed: 10)
            var dq2 = dq0, dk2 = dk0, dv2 = dv0
            AttentionKernel.backwardProducts(q: x.q, k: x.k, v: x.v, probs: probs, dOut: x.dOut, scale: 0.3, shape: s,
                                             dq: &dq2, dk: &dk2, dv: &dv2, pool: .serial)
            for tiling in tilings {
                var tiledOut = [Float](repeating: 0, count: x.q.count)
                var lse = [Float](repeating: 0, count: AttentionKernel.logSumExpCount(s))
                AttentionKernel.forwardTiled(q: x.q, k: x.k, v: x.v, keyMask: c.mask, scale: 0.3, shape: s,
                                             out: &tiledOut, logSumExp: &lse, tiling: tiling, pool: .serial)
                var dq1 = dq0, dk1 = dk0, dv1 = dv0
                AttentionKernel.backwardTiled(q: x.q, k: x.k, v: x.v, out: tiledOut, logSumExp: lse, dOut: x.dOut,
                                              keyMask: c.mask, scale: 0.3, shape: s, dq: &dq1, dk: &dk1, dv: &dv1,
                                              tiling: tiling, pool: WorkerPool(threads: 2))
                let label = "\(s) \(name(tiling))"
                assertClose(dq1, dq2, "dq \(label)")
                assertClose(dk1, dk2, "dk \(label)")
                assertClose(dv1, dv2, "dv \(label)")
            }
        }
    }

    func testBackwardWithOnlyValueGradientLeavesQueryAndKeyAlone() {
        let c = cases[1], s = c.shape, x = inputs(s, seed: 11)
        var out = [Float](repeating: 0, count: x.q.count), probs = [Float](repeating: 0, count: s.probabilityCount)
        AttentionKernel.forwardProducts(q: x.q, k: x.k, v: x.v, keyMask: c.mask, scale: 0.25, shape: s,
                                        out: &out, probs: &probs, pool: .serial)
        var dv2 = [Float](repeating: 0, count: x.v.count)
        AttentionKernel.backwardProducts(q: x.q, k: x.k, v: x.v, probs: probs, dOut: x.dOut, scale: 0.25, shape: s,
                                         dq: nil, dk: nil, dv: &dv2, pool: .serial)
        var lse = [Float](repeating: 0, count: AttentionKernel.logSumExpCount(s))
        AttentionKernel.forwardTiled(q: x.q, k: x.k, v: x.v, keyMask: c.mask, scale: 0.25, shape: s,
                                     out: &out, logSumExp: &lse, pool: .serial)
        var dv1 = [Float](repeating: 0, count: x.v.count)
        AttentionKernel.backwardTiled(q: x.q, k: x.k, v: x.v, out: out, logSumExp: lse, dOut: x.dOut, keyMask: c.mask,
                                      scale: 0.25, shape: s, dq: nil, dk: nil, dv: &dv1, pool: .serial)
        assertClose(dv1, dv2, "dv")
    }

    func testMethodIsChosenByKeyLengthUnlessForced() {
        let saved = AttentionKernel.forcedMethod
        defer { AttentionKernel.forcedMethod = saved }
        func shape(_ tk: Int) -> AttentionShape {
            AttentionShape(batch: 1, queryLength: 1, keyLength: tk, queryHeads: 1, keyValueHeads: 1, headDim: 16)
        }
        AttentionKernel.forcedMethod = nil
        XCTAssertEqual(AttentionKernel.method(for: shape(AttentionKernel.tiledFromKeyLength - 1)), .materialized)
        XCTAssertEqual(AttentionKernel.method(for: shape(AttentionKernel.tiledFromKeyLength)), .tiled)
        AttentionKernel.forcedMethod = .tiled
        XCTAssertEqual(AttentionKernel.method(for: shape(4)), .tiled)
        AttentionKernel.forcedMethod = .materialized
        XCTAssertEqual(AttentionKernel.method(for: shape(1 << 20)), .materialized)
    }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5, "\(what): largest relative difference \(worst)", file: file, line: line)
    }
}
