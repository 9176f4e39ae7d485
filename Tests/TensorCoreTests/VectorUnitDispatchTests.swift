import Foundation
import XCTest
@testable import TensorCore

/// The row kernels' two paths, AVX-512 (16 lanes) and AVX2 + FMA (8 lanes), on the machine that
/// has both: the same values up to the order of a sum's lanes. Skipped (with the reason) where the
/// processor has no AVX-512.
final class VectorUnitDispatchTests: XCTestCase {
    var saved = false
    override func setUp() { saved = VectorUnitDispatch.wide }
    override func tearDown() { VectorUnitDispatch.wide = saved }

    func requireAVX512() throws {
        guard ProcessorFeatures.current.vectorUnit == .avx512 else {
            throw XCTSkip("this processor has no AVX-512 (\(ProcessorFeatures.current.summary)): only the 8-lane path runs here")
        }
    }

    /// Values over the exp polynomial's whole range and beyond its fallback bounds, with a tail
    /// that is not a whole vector.
    func inputs(_ n: Int) -> [Float] {
        (0..<n).map { i in Float((i * 7919) % 2001 - 1000) / 9 }
    }

    func both<T>(_ body: () -> T) -> (narrow: T, wide: T) {
        VectorUnitDispatch.wide = false
        let narrow = body()
        VectorUnitDispatch.wide = true
        return (narrow, body())
    }

    func firstDifference(_ a: [Float], _ b: [Float]) -> String {
        guard let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) else { return "none" }
        return "index \(i): \(a[i]) vs \(b[i])"
    }

    func testTheDefaultIsAVX512WhereTheProcessorHasIt() throws {
        try requireAVX512()
        if ProcessInfo.processInfo.environment[VectorUnitDispatch.environmentVariable] == nil {
            XCTAssertTrue(saved)
        }
    }

    func testActivationsForwardAndBackwardAgreeOnBothPaths() throws {
        try requireAVX512()
        let n = 1000 + 13
        let x = inputs(n), dy = inputs(n).map { $0 / 50 }
        for f: Pointwise.Function in [.geluErf, .geluTanh, .silu] {
            let (a, b) = both { () -> ([Float], [Float]) in
                var y = [Float](repeating: 0, count: n), dx = [Float](repeating: 0.25, count: n)
                x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
                    Pointwise.forward(f, x: px.baseAddress!, y: py.baseAddress!, count: n, pool: .serial)
                } }
                x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in dy.withUnsafeBufferPointer { pdy in
                    dx.withUnsafeMutableBufferPointer { pdx in
                        Pointwise.backward(f, x: px.baseAddress!, y: py.baseAddress!, dy: pdy.baseAddress!, dx: pdx.baseAddress!,
                                           count: n, pool: .serial)
                    }
                } } }
                return (y, dx)
            }
            // Elementwise: every lane computes the same polynomial, so the bits agree.
            XCTAssertTrue(a.0.map(\.bitPattern) == b.0.map(\.bitPattern), "\(f) forward: \(firstDifference(a.0, b.0))")
            XCTAssertTrue(a.1.map(\.bitPattern) == b.1.map(\.bitPattern), "\(f) backward: \(firstDifference(a.1, b.1))")
        }
    }

    func testRowReductionsAgreeOnBothPathsUpToTheOrderOfTheSum() throws {
        try requireAVX512()
        for n in [64, 100, 1000, 50_304] {
            let x = inputs(n).map { $0 / 20 }, y = inputs(n).reversed().map { $0 / 30 }
            x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in
                let p = px.baseAddress!, q = py.baseAddress!
                let m = both { VectorMath.max(p, n) }
                XCTAssertEqual(m.narrow, m.wide)
                // Sums in 16 lanes round differently from sums in 8: agreement to float32's
                // rounding of the sum of magnitudes.
                let magnitude = x.reduce(0) { $0 + abs($1) }, products = zip(x, y).reduce(0) { $0 + abs($1.0 * $1.1) }
                for (name, r, scale) in [("sum", both { VectorMath.sum(p, n) }, magnitude),
                                         ("dot", both { VectorMath.dot(p, q, n) }, products),
                                         ("sumExp", both { VectorMath.sumExp(p, n, shift: m.wide) }, Float(n)),
                                         ("sumSquaredDeviation", both { VectorMath.sumSquaredDeviation(p, n, from: 0.5) }, x.reduce(0) { $0 + ($1 - 0.5) * ($1 - 0.5) })] {
                    XCTAssertEqual(r.narrow, r.wide, accuracy: 1e-5 * scale, "\(name) n \(n)")
                }
            } }
            let exps = both { () -> ([Float], Float) in
                var z = x
                let total = z.withUnsafeMutableBufferPointer { VectorMath.expInPlaceSum($0.baseAddress!, n, shift: 10) }
                return (z, total)
            }
            XCTAssertTrue(exps.narrow.0.map(\.bitPattern) == exps.wide.0.map(\.bitPattern),
                          "expInPlaceSum n \(n): \(firstDifference(exps.narrow.0, exps.wide.0))")
            XCTAssertEqual(exps.narrow.1, exps.wide.1, accuracy: 1e-5 * exps.narrow.1, "expInPlaceSum total n \(n)")
        }
    }
}
