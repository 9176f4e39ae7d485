import TensorCore
import XCTest

/// `Gemm.logging(into:)`: what the step benchmark's product comparison is built on.
final class GemmProductLogTests: XCTestCase {
    func product(m: Int, n: Int, k: Int, transB: Bool = false, beta: Float = 0, ldc: Int? = nil, parallel: Bool = true) {
        let a = [Float](repeating: 1, count: m * k), b = [Float](repeating: 1, count: k * n)
        var c = [Float](repeating: 0, count: m * (ldc ?? n))
        Gemm.sgemm(transA: false, transB: transB, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: transB ? k : n,
                   beta: beta, c: &c, ldc: ldc ?? n, parallel: parallel)
    }

    func testEveryProductInsideIsLoggedByItsShapeWithItsCallCountAndFastestCall() throws {
        let log = GemmProductLog()
        Gemm.logging(into: log) {
            product(m: 64, n: 32, k: 16)
            product(m: 64, n: 32, k: 16)
            product(m: 8, n: 16, k: 4, transB: true, beta: 1, ldc: 20, parallel: false)
        }
        let entries = log.entries
        XCTAssertEqual(entries.count, 2)
        let plain = GemmProductLog.Shape(transA: false, transB: false, m: 64, n: 32, k: 16)
        XCTAssertEqual(entries[plain]?.calls, 2)
        XCTAssertGreaterThan(entries[plain]?.seconds ?? 0, 0)
        let fastest = try XCTUnwrap(entries[plain]?.fastest)
        XCTAssertGreaterThan(fastest, 0)
        XCTAssertLessThanOrEqual(2 * fastest, entries[plain]?.seconds ?? 0) // the faster of two calls
        let strided = GemmProductLog.Shape(transA: false, transB: true, m: 8, n: 16, k: 4, ldc: 20, accumulates: true, parallel: false)
        XCTAssertEqual(entries[strided]?.calls, 1)
        XCTAssertEqual(strided.label, "NT 8x16x4 += (1 thread)")
        XCTAssertEqual(strided.flops, 2 * 8 * 16 * 4)
    }

    func testProductsOutsideTheLoggedBodyAreNotLogged() {
        let log = GemmProductLog()
        product(m: 4, n: 4, k: 4)
        Gemm.logging(into: log) { product(m: 2, n: 2, k: 2) }
        product(m: 4, n: 4, k: 4)
        XCTAssertEqual(log.entries.keys.map(\.m), [2])
    }

    func testTheLeadingDimensionsDefaultToTheDenseOnes() {
        let shape = GemmProductLog.Shape(transA: true, transB: true, m: 3, n: 5, k: 7)
        XCTAssertEqual([shape.lda, shape.ldb, shape.ldc], [3, 7, 5])
        XCTAssertEqual(shape.operandCounts.a, 7 * 3)
        XCTAssertEqual(shape.operandCounts.b, 5 * 7)
        XCTAssertEqual(shape.operandCounts.c, 3 * 5)
    }
}
