import XCTest
import TensorCore

/// The rotary kernel's angle table: one entry per distinct position of a call, whether positions
/// come per position (`[T]`) or per row (`[B*T]`, e.g. after a shared prompt or in generation).
final class RotaryKernelTests: XCTestCase {
    let (batch, length, heads, d, r) = (3, 5, 2, 8, 4)
    let inv = RotaryKernel.inverseFrequencies(rotaryDims: 4, base: 10000)

    func rotate(_ x: [Float], positions: [Int32], batch: Int) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        RotaryKernel.apply(x: x, y: &y, accumulate: false, batch: batch, length: length, heads: heads, headDim: d,
                           rotaryDims: r, positions: positions, inverseFrequencies: inv, inverse: false,
                           pool: WorkerPool(threads: 2))
        return y
    }

    func testPerRowPositionsThatRepeatGiveThePerPositionResult() {
        let x = (0..<(batch * length * heads * d)).map { Float($0 % 13) * 0.25 - 1.5 }
        let shared = rotate(x, positions: (7..<12).map(Int32.init), batch: batch)
        let perRow = rotate(x, positions: (0..<batch).flatMap { _ in (7..<12).map(Int32.init) }, batch: batch)
        XCTAssertEqual(perRow, shared)
    }

    func testEachRowTurnsByItsOwnPositions() {
        let x = (0..<(batch * length * heads * d)).map { Float($0 % 11) * 0.5 - 2 }
        let starts: [Int32] = [0, 3, 40]
        let perRow = rotate(x, positions: starts.flatMap { s in (0..<Int32(length)).map { s + $0 } }, batch: batch)
        let row = length * heads * d
        for (b, s) in starts.enumerated() {
            let alone = rotate(Array(x[(b * row)..<((b + 1) * row)]), positions: (0..<Int32(length)).map { s + $0 }, batch: 1)
            XCTAssertEqual(Array(perRow[(b * row)..<((b + 1) * row)]), alone, "row \(b)")
        }
    }

    func testARotatedPairIsTheTextbookRotation() {
        // One head of 8 with 4 rotary dims: pairs (0, 2) and (1, 3) turn by position * inv[i].
        let x: [Float] = [0.3, -1.2, 0.7, 0.25, 5, 6, 7, 8]
        var y = [Float](repeating: 0, count: 8)
        RotaryKernel.apply(x: x, y: &y, accumulate: false, batch: 1, length: 1, heads: 1, headDim: 8, rotaryDims: 4,
                           positions: [37], inverseFrequencies: inv, inverse: false, pool: .serial)
        for i in 0..<2 {
            let angle = Double(Float(37) * inv[i])
            let (a, b) = (Double(x[i]), Double(x[i + 2]))
            XCTAssertEqual(Double(y[i]), a * cos(angle) - b * sin(angle), accuracy: 1e-5, "dim \(i)")
            XCTAssertEqual(Double(y[i + 2]), b * cos(angle) + a * sin(angle), accuracy: 1e-5, "dim \(i + 2)")
        }
        XCTAssertEqual(Array(y[4...]), [5, 6, 7, 8])
    }

    func testPositionsSpreadWiderThanTheirCountStillTurnEachRow() {
        // A span of 5000 positions for 15 entries: one angle entry per entry, not per position.
        let x = (0..<(batch * length * heads * d)).map { Float($0 % 7) * 0.5 - 1 }
        let starts: [Int32] = [0, 4000, 12]
        let perRow = rotate(x, positions: starts.flatMap { s in (0..<Int32(length)).map { s + $0 * 200 } }, batch: batch)
        let row = length * heads * d
        for (b, s) in starts.enumerated() {
            let alone = rotate(Array(x[(b * row)..<((b + 1) * row)]), positions: (0..<Int32(length)).map { s + $0 * 200 }, batch: 1)
            XCTAssertEqual(Array(perRow[(b * row)..<((b + 1) * row)]), alone, "row \(b)")
        }
    }
}

