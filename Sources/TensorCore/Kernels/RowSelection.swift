import Foundation

/// A subset of the rows of a `[rows, width]` matrix, as sorted, disjoint runs of row indices.
///
/// The language-model head uses it to project only the positions whose logits someone reads
/// (in a preference batch, the response positions: about half of them when prompts are half the
/// sequence), gathering those rows into a dense block for one matrix product.
public struct RowSelection: Equatable, Sendable {
    /// Rows of the full matrix.
    public let rows: Int
    /// Sorted, disjoint, non-empty ranges within `0..<rows`.
    public let runs: [Range<Int>]
    /// Rows selected (the dense block's height).
    public let count: Int

    /// `keep(row)` for every row, merged into runs.
    public init(rows: Int, keep: (Int) -> Bool) {
        var runs: [Range<Int>] = []
        var start: Int?
        for r in 0..<rows {
            if keep(r) {
                if start == nil { start = r }
            } else if let s = start {
                runs.append(s..<r)
                start = nil
            }
        }
        if let s = start { runs.append(s..<rows) }
        self.rows = rows
        self.runs = runs
        self.count = runs.reduce(0) { $0 + $1.count }
    }

    public var isAll: Bool { count == rows }

    /// Zeros every row of `full [rows, width]` that is not selected.
    public func clearUnselected(_ full: UnsafeMutablePointer<Float>, width: Int) {
        var next = 0
        for run in runs + [rows..<rows] {
            if run.lowerBound > next { (full + next * width).update(repeating: 0, count: (run.lowerBound - next) * width) }
            next = run.upperBound
        }
    }

    /// Copies the selected rows of `full [rows, width]` into `dense [count, width]`.
    public func gather(_ full: UnsafePointer<Float>, into dense: UnsafeMutablePointer<Float>, width: Int, pool: WorkerPool) {
        let p = UnsafeSendable((full, dense))
        forEachRun(pool) { run, at in
            let (full, dense) = p.value
            (dense + at * width).update(from: full + run.lowerBound * width, count: run.count * width)
        }
    }

    /// Moves a dense block held in the first `count` rows of `full [rows, width]` to the selected
    /// rows and zeros every other row, in place (so a product can write straight into the output).
    /// Runs go last to first: run i's source rows start at or before its destination and end
    /// before any later run's destination, so nothing is overwritten before it moved.
    public func spreadInPlace(_ full: UnsafeMutablePointer<Float>, width: Int) {
        let offsets = denseOffsets
        var gapEnd = rows
        for i in stride(from: runs.count - 1, through: 0, by: -1) {
            let run = runs[i]
            if gapEnd > run.upperBound { (full + run.upperBound * width).update(repeating: 0, count: (gapEnd - run.upperBound) * width) }
            if offsets[i] != run.lowerBound {
                // The ranges may overlap: memmove.
                memmove(full + run.lowerBound * width, full + offsets[i] * width, run.count * width * MemoryLayout<Float>.stride)
            }
            gapEnd = run.lowerBound
        }
        if gapEnd > 0 { full.update(repeating: 0, count: gapEnd * width) }
    }

    /// The inverse move: the selected rows of `full [rows, width]` packed into its first `count`
    /// rows, in place (the other rows are left unspecified). Runs go first to last: each run moves
    /// to a destination at or before its source, past every earlier run's.
    public func compactInPlace(_ full: UnsafeMutablePointer<Float>, width: Int) {
        var at = 0
        for run in runs {
            if at != run.lowerBound {
                memmove(full + at * width, full + run.lowerBound * width, run.count * width * MemoryLayout<Float>.stride)
            }
            at += run.count
        }
    }

    /// `full[selected rows] += dense` (other rows untouched).
    public func scatterAdd(_ dense: UnsafePointer<Float>, into full: UnsafeMutablePointer<Float>, width: Int, pool: WorkerPool) {
        let p = UnsafeSendable((dense, full))
        forEachRun(pool) { run, at in
            let (dense, full) = p.value
            let src = dense + at * width, dst = full + run.lowerBound * width
            for j in 0..<(run.count * width) { dst[j] += src[j] }
        }
    }

    /// `body(run, row of the dense block where it starts)` for every run, runs spread over the pool.
    private func forEachRun(_ pool: WorkerPool, _ body: (Range<Int>, Int) -> Void) {
        let offsets = denseOffsets
        pool.parallelFor(runs.count, grain: 1) { range in
            for i in range { body(runs[i], offsets[i]) }
        }
    }

    /// Row of the dense block where each run starts.
    private var denseOffsets: [Int] {
        var offsets: [Int] = []
        offsets.reserveCapacity(runs.count)
        var at = 0
        for run in runs { offsets.append(at); at += run.count }
        return offsets
    }
}
