import Foundation
import TensorCore
import XCTest

/// The SIMD GELUs agree with the exact functions (evaluated in double precision) in value and
/// derivative: to a few float32 roundings (the erf polynomial's error is below 1.5e-7; near
/// |x| ~ 4 the derivative's `1 - tanh^2` or `s (1 - s)` loses about 1e-6 to cancellation in any
/// float32 form, libm's included).
final class VectorGELUTests: XCTestCase {
    /// -12...12 in steps of 1/64, plus the extremes where exp under- or overflows.
    let xs: [Float] = (-768...768).map { Float($0) / 64 } + [-100, -60, -30, 30, 60, 100, 0x1p-20, -0x1p-20]

    func run(_ f: Pointwise.Function) -> (y: [Float], dx: [Float]) {
        var y = [Float](repeating: 0, count: xs.count), dx = [Float](repeating: 0, count: xs.count)
        let dy = [Float](repeating: 1, count: xs.count)
        xs.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { Pointwise.forward(f, x: x.baseAddress!, y: $0.baseAddress!, count: xs.count, pool: .serial) }
            y.withUnsafeBufferPointer { yb in dy.withUnsafeBufferPointer { d in dx.withUnsafeMutableBufferPointer {
                Pointwise.backward(f, x: x.baseAddress!, y: yb.baseAddress!, dy: d.baseAddress!, dx: $0.baseAddress!, count: xs.count, pool: .serial)
            } } }
        }
        return (y, dx)
    }

    func testTanhGELUMatchesTheExactFunction() {
        let (y, dx) = run(.geluTanh)
        for (i, x) in xs.enumerated() {
            let v = Double(x), c = (2 / Double.pi).squareRoot(), u = c * (v + 0.044715 * v * v * v), t = Foundation.tanh(u)
            XCTAssertEqual(Double(y[i]), 0.5 * v * (1 + t), accuracy: 3e-7 * max(1, abs(v)), "gelu_new(\(x))")
            let expected = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)
            XCTAssertEqual(Double(dx[i]), expected, accuracy: 3e-6, "gelu_new'(\(x))")
        }
    }

    func testErfGELUMatchesTheExactFunction() {
        let (y, dx) = run(.geluErf)
        for (i, x) in xs.enumerated() {
            let v = Double(x), cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
            XCTAssertEqual(Double(y[i]), v * cdf, accuracy: 3e-7 * max(1, abs(v)), "gelu(\(x))")
            let expected = cdf + v * Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            XCTAssertEqual(Double(dx[i]), expected, accuracy: 3e-6, "gelu'(\(x))")
        }
    }
}
