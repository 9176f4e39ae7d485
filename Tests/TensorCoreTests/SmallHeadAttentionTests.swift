import TensorCore
import XCTest

/// The small-head attention kernel computes what the matrix-product path computes.
final class SmallHeadAttentionTests: XCTestCase {
    /// 37 and 45 keys: passes of 32 keys, then chunks of 8 and a partial one; Tq < Tk puts
    /// cached keys first; padded keys at the start, the end and inside a row.
    let cases = [
        AttentionCase(shape: AttentionShape(batch: 2, queryLength: 37, keyLength: 37, queryHeads: 4, keyValueHeads: 2, headDim: 16),
             mask: nil),
        AttentionCase(shape: AttentionShape(batch: 2, queryLength: 9, keyLength: 45, queryHeads: 2, keyValueHeads: 2, headDim: 8),
             mask: (0..<90).map { $0 == 0 || $0 == 44 || $0 == 50 ? 0 : 1 }),
        AttentionCase(shape: AttentionShape(batch: 1, queryLength: 40, keyLength: 40, queryHeads: 3, keyValueHeads: 1, headDim: 32),
             mask: (0..<40).map { $0 < 3 ? 0 : 1 }),
    ]

    func random(_ count: Int, seed: UInt64) -> [Float] { attentionTestValues(count, seed: seed) }

    func testSmallHeadPathIsTakenForHeadsOfEightAndSixteen() {
        for d in [8, 16] {
            XCTAssertTrue(AttentionKernel.usesSmallHeadKernel(shape(headDim: d)), "d=\(d)")
        }
        for d in [4, 12, 24, 32, 64] {
            XCTAssertFalse(AttentionKernel.usesSmallHeadKernel(shape(headDim: d)), "d=\(d)")
        }
    }

    func shape(headDim: Int) -> AttentionShape {
        AttentionShape(batch: 1, queryLength: 4, keyLength: 4, queryHeads: 1, keyValueHeads: 1, headDim: headDim)
    }

    func testForwardMatchesTheMatrixProductPath() {
        for c in cases {
            let s = c.shape
            let q = random(s.batch * s.queryLength * s.queryHeads * s.headDim, seed: 1)
            let k = random(s.batch * s.keyLength * s.keyValueHeads * s.headDim, seed: 2)
            let v = random(k.count, seed: 3)
            var out1 = [Float](repeating: 9, count: q.count), out2 = out1
            var p1 = [Float](repeating: 9, count: s.probabilityCount), p2 = p1
            AttentionKernel.forwardSmallHead(q: q, k: k, v: v, keyMask: c.mask, scale: 0.3, shape: s,
                                             out: &out1, probs: &p1, pool: WorkerPool(threads: 2))
            AttentionKernel.forwardProducts(q: q, k: k, v: v, keyMask: c.mask, scale: 0.3, shape: s,
                                            out: &out2, probs: &p2, pool: WorkerPool(threads: 2))
            assertClose(out1, out2, "output \(s)")
            assertClose(p1, p2, "probabilities \(s)")
            // Entries past a row's last visible key are exactly zero in both.
            XCTAssertEqual(p1.indices.filter { p1[$0] == 0 }, p2.indices.filter { p2[$0] == 0 })
        }
    }

    func testBackwardMatchesTheMatrixProductPath() {
        for c in cases {
            let s = c.shape
            let q = random(s.batch * s.queryLength * s.queryHeads * s.headDim, seed: 4)
            let k = random(s.batch * s.keyLength * s.keyValueHeads * s.headDim, seed: 5)
            let v = random(k.count, seed: 6), dOut = random(q.count, seed: 7)
            var out = [Float](repeating: 0, count: q.count), probs = [Float](repeating: 0, count: s.probabilityCount)
            AttentionKernel.forwardProducts(q: q, k: k, v: v, keyMask: c.mask, scale: 0.3, shape: s,
                                            out: &out, probs: &probs, pool: .serial)
            // Both accumulate onto what the gradients already hold.
            var dq1 = random(q.count, seed: 8), dk1 = random(k.count, seed: 9), dv1 = random(v.count, seed: 10)
            var dq2 = dq1, dk2 = dk1, dv2 = dv1
            AttentionKernel.backwardSmallHead(q: q, k: k, v: v, probs: probs, dOut: dOut, scale: 0.3, shape: s,
                                              dq: &dq1, dk: &dk1, dv: &dv1, pool: WorkerPool(threads: 2))
            AttentionKernel.backwardProducts(q: q, k: k, v: v, probs: probs, dOut: dOut, scale: 0.3, shape: s,
                                             dq: &dq2, dk: &dk2, dv: &dv2, pool: WorkerPool(threads: 2))
            assertClose(dq1, dq2, "dq \(s)")
            assertClose(dk1, dk2, "dk \(s)")
            assertClose(dv1, dv2, "dv \(s)")
        }
    }

    func testBackwardWithOnlyValueGradientLeavesQueryAndKeyAlone() {
        let s = cases[0].shape
        let q = random(s.batch * s.queryLength * s.queryHeads * s.headDim, seed: 11)
        let k = random(s.batch * s.keyLength * s.keyValueHeads * s.headDim, seed: 12)
        let v = random(k.count, seed: 13), dOut = random(q.count, seed: 14)
        var out = [Float](repeating: 0, count: q.count), probs = [Float](repeating: 0, count: s.probabilityCount)
        AttentionKernel.forwardSmallHead(q: q, k: k, v: v, keyMask: nil, scale: 0.25, shape: s,
                                         out: &out, probs: &probs, pool: .serial)
        var dv1 = [Float](repeating: 0, count: v.count), dv2 = dv1
        AttentionKernel.backwardSmallHead(q: q, k: k, v: v, probs: probs, dOut: dOut, scale: 0.25, shape: s,
                                          dq: nil, dk: nil, dv: &dv1, pool: .serial)
        AttentionKernel.backwardProducts(q: q, k: k, v: v, probs: probs, dOut: dOut, scale: 0.25, shape: s,
                                         dq: nil, dk: nil, dv: &dv2, pool: .serial)
        assertClose(dv1, dv2, "dv")
    }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5, "\(what): largest relative difference \(worst)", file: file, line: line)
    }
}
