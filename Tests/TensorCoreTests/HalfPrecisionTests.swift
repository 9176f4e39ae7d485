import TensorCore
import XCTest

/// The SIMD widening of 16-bit weights gives, for every one of the 65,536 bit patterns, what the
/// scalar conversion gives (NaNs stay NaN).
final class HalfPrecisionTests: XCTestCase {
    func check(_ widen: (UnsafePointer<UInt16>, UnsafeMutablePointer<Float>, Int) -> Void, _ scalar: (UInt16) -> Float) {
        // Twice over, shifted by three, so the SIMD blocks and the scalar tail both see every pattern.
        let bits = (0..<(2 * 65536 + 3)).map { UInt16(truncatingIfNeeded: $0 &+ ($0 >= 65536 ? 3 : 0)) }
        var out = [Float](repeating: 0, count: bits.count)
        bits.withUnsafeBufferPointer { b in out.withUnsafeMutableBufferPointer { widen(b.baseAddress!, $0.baseAddress!, bits.count) } }
        for (b, f) in zip(bits, out) {
            let expected = scalar(b)
            if expected.isNaN { XCTAssertTrue(f.isNaN, "\(b)") } else if f.bitPattern != expected.bitPattern {
                XCTFail("pattern \(b): \(f), expected \(expected)"); return
            }
        }
    }

    func testFloat16WideningEqualsTheScalarConversionForEveryPattern() {
        check({ HalfPrecision.widen(float16: $0, into: $1, count: $2) }) { Float(Float16(bitPattern: $0)) }
    }

    func testBFloat16WideningIsTheUpperHalfOfAFloat32ForEveryPattern() {
        check({ HalfPrecision.widen(bfloat16: $0, into: $1, count: $2) }) { Float(bitPattern: UInt32($0) << 16) }
    }
}
