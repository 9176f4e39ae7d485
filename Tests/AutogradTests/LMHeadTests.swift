import XCTest
import Autograd
import TensorCore

/// The output projection on selected rows: `linear` there, 0 elsewhere, gradients only through
/// the selected rows.
final class LMHeadTests: XCTestCase {
    func testRowSelectionMergesKeptRowsIntoRuns() {
        let kept: Set<Int> = [0, 1, 2, 5, 7, 8, 11]
        let s = RowSelection(rows: 12) { kept.contains($0) }
        XCTAssertEqual(s.runs, [0..<3, 5..<6, 7..<9, 11..<12])
        XCTAssertEqual(s.count, 7)
        XCTAssertFalse(s.isAll)
        XCTAssertTrue(RowSelection(rows: 3) { _ in true }.isAll)
        XCTAssertEqual(RowSelection(rows: 3) { _ in false }.runs, [])
    }

    func testGatherThenSpreadKeepsSelectedRowsAndZerosTheRest() throws {
        let rows = 11, width = 5
        for keep in [{ (r: Int) in r % 3 != 0 }, { $0 >= 4 }, { $0 < 6 }, { $0 == 0 || $0 == 10 }] {
            let s = RowSelection(rows: rows, keep: keep)
            let full = try Tensor(shape: [rows, width], values: (0..<(rows * width)).map { Float($0) + 1 })
            // The dense block in the first rows of a buffer whose other rows hold garbage.
            let back = Tensor(shape: [rows, width], repeating: -7)
            s.gather(full.pointer, into: back.pointer, width: width, pool: WorkerPool(threads: 2))
            s.spreadInPlace(back.pointer, width: width)
            for r in 0..<rows {
                for c in 0..<width {
                    XCTAssertEqual(back.pointer[r * width + c], keep(r) ? full.pointer[r * width + c] : 0, "row \(r) column \(c)")
                }
            }
        }
    }

    func testCompactThenSpreadRestoresSelectedRows() throws {
        let rows = 10, width = 3
        for keep in [{ (r: Int) in r % 4 != 1 }, { $0 >= 7 }, { $0 < 2 }, { $0 == 5 }] {
            let s = RowSelection(rows: rows, keep: keep)
            let values = (0..<(rows * width)).map { Float($0) + 1 }
            let t = try Tensor(shape: [rows, width], values: values)
            s.compactInPlace(t.pointer, width: width)
            var dense: [Float] = []
            for r in 0..<rows where keep(r) { dense += values[(r * width)..<((r + 1) * width)] }
            XCTAssertEqual(Array(t.scalars[..<(s.count * width)]), dense)
            s.spreadInPlace(t.pointer, width: width)
            XCTAssertEqual(t.scalars, (0..<(rows * width)).map { keep($0 / width) ? values[$0] : 0 })
        }
    }

    /// Same values and gradients as `linear` whose output is then masked to the selected rows:
    /// a prompt and the last position left out (rows gathered), and only the last position left
    /// out (nearly every row: the product runs on all of them and the others are cleared).
    func testHeadOnSelectedRowsEqualsMaskedLinearInValueAndGradients() throws {
        for (layout, t, prompt) in [(LinearLayout.outIn, 6, 2), (.inOut, 6, 2), (.outIn, 10, 0), (.inOut, 10, 0)] {
            var rng = SplitMix64(seed: layout == .outIn ? 1 : 2)
            let (n, h, v) = (3, 7, 19)
            let xv = Tensor.randomNormal([n, t, h], using: &rng)
            let wv = Tensor.randomNormal(layout == .outIn ? [v, h] : [h, v], using: &rng)
            let bv = Tensor.randomNormal([v], using: &rng)
            let upstream = Tensor.randomNormal([n, t, v], using: &rng)
            let s = RowSelection(rows: n * t) { $0 % t >= prompt && $0 % t < t - 1 }
            let mask = try Tensor(shape: [n, t, 1], values: (0..<(n * t)).map { row in s.runs.contains { $0.contains(row) } ? 1 : 0 })

            func run(_ selected: Bool) throws -> (out: [Float], dx: [Float], dw: [Float], db: [Float]) {
                let tape = Tape(pool: WorkerPool(threads: 2))
                let x = Variable(xv.copy(), requiresGrad: true), w = Variable(wv.copy(), requiresGrad: true)
                let b = Variable(bv.copy(), requiresGrad: true)
                let out = selected
                    ? try tape.lmHead(x, weight: w, bias: b, layout: layout, rows: s)
                    : try tape.mul(try tape.linear(x, weight: w, bias: b, layout: layout), Variable(mask))
                try tape.backward(try tape.sum(try tape.mul(out, Variable(upstream))))
                return (out.value.scalars, x.grad!.scalars, w.grad!.scalars, b.grad!.scalars)
            }
            let a = try run(true), e = try run(false)
            for (i, (p, q)) in zip(a.out, e.out).enumerated() { XCTAssertEqual(p, q, accuracy: 1e-5, "\(layout) output \(i)") }
            for (i, (p, q)) in zip(a.dx, e.dx).enumerated() { XCTAssertEqual(p, q, accuracy: 1e-5, "\(layout) dx \(i)") }
            for (i, (p, q)) in zip(a.dw, e.dw).enumerated() { XCTAssertEqual(p, q, accuracy: 1e-4, "\(layout) dW \(i)") }
            for (i, (p, q)) in zip(a.db, e.db).enumerated() { XCTAssertEqual(p, q, accuracy: 1e-4, "\(layout) db \(i)") }
            for r in 0..<(n * t) where mask.pointer[r] == 0 {
                XCTAssertEqual(Array(a.out[(r * v)..<((r + 1) * v)]), [Float](repeating: 0, count: v), "unselected row \(r) is 0")
                XCTAssertEqual(Array(a.dx[(r * h)..<((r + 1) * h)]), [Float](repeating: 0, count: h), "no gradient into unselected row \(r)")
            }
        }
    }

    func testHeadOnNoSelectedRowIsZeroAndStillBackPropagates() throws {
        var rng = SplitMix64(seed: 6)
        let x = Variable(Tensor.randomNormal([2, 4, 6], using: &rng), requiresGrad: true)
        let w = Variable(Tensor.randomNormal([9, 6], using: &rng), requiresGrad: true)
        let tape = Tape(pool: .serial)
        let out = try tape.lmHead(x, weight: w, rows: RowSelection(rows: 8) { _ in false })
        XCTAssertEqual(out.shape, [2, 4, 9])
        XCTAssertEqual(out.value.scalars, [Float](repeating: 0, count: 72))
        // A batch without a counted label: its loss is a constant of the graph, not an error.
        XCTAssertTrue(out.requiresGrad)
        XCTAssertNoThrow(try tape.backward(try tape.sum(out)))
        XCTAssertNil(w.grad.map { g in g.scalars.first { $0 != 0 } } ?? nil)
    }

    func testHeadWithoutSelectionIsExactlyLinear() throws {
        var rng = SplitMix64(seed: 5)
        let x = Variable(Tensor.randomNormal([2, 4, 6], using: &rng)), w = Variable(Tensor.randomNormal([9, 6], using: &rng))
        let tape = Tape(pool: .serial)
        let all = RowSelection(rows: 8) { _ in true }
        let expected = try tape.linear(x, weight: w).value.scalars
        XCTAssertEqual(try tape.lmHead(x, weight: w, rows: nil).value.scalars, expected)
        XCTAssertEqual(try tape.lmHead(x, weight: w, rows: all).value.scalars, expected)
    }

    func testSelectionOfTheWrongNumberOfRowsIsAShapeError() throws {
        let x = Variable(Tensor(zeros: [2, 4, 6])), w = Variable(Tensor(zeros: [9, 6]))
        XCTAssertThrowsError(try Tape(pool: .serial).lmHead(x, weight: w, rows: RowSelection(rows: 7) { $0 > 2 })) { error in
            XCTAssertTrue("\(error)".contains("lmHead"), "\(error)")
        }
    }

    func testHeadGradientsMatchFiniteDifferences() throws {
        let s = RowSelection(rows: 6) { $0 != 0 && $0 != 4 }
        var rng = SplitMix64(seed: 3)
        let inputs = [Tensor.randomNormal([2, 3, 4], using: &rng), Tensor.randomNormal([5, 4], using: &rng),
                      Tensor.randomNormal([5], using: &rng)]
        let failure = try GradientCheck().run(inputs: inputs, seed: 7) { t, v in
            try t.lmHead(v[0], weight: v[1], bias: v[2], rows: s)
        }
        XCTAssertNil(failure, failure.map(String.init(describing:)) ?? "")
    }
}
