/// Sum over one axis, viewing a dense tensor as `[outer, n, inner]`.
public enum ReduceSum {
    /// `y[o, i] = sum_j x[o, j, i]`.
    public static func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                               outer: Int, n: Int, inner: Int) {
        for o in 0..<outer {
            let yo = y + o * inner
            for i in 0..<inner { yo[i] = 0 }
            for j in 0..<n {
                let xr = x + (o * n + j) * inner
                for i in 0..<inner { yo[i] += xr[i] }
            }
        }
    }

    /// `dx[o, j, i] += dy[o, i]`.
    public static func backward(dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                outer: Int, n: Int, inner: Int) {
        for o in 0..<outer {
            let dyo = dy + o * inner
            for j in 0..<n {
                let dxr = dx + (o * n + j) * inner
                for i in 0..<inner { dxr[i] += dyo[i] }
            }
        }
    }
}

extension ReduceSum {
    /// `db[i] += sum_r dy[r, i]`: the bias gradient of a linear layer. Parallel over blocks of
    /// columns, so workers never share an output element and each column is still summed over
    /// the rows in order: the bits do not depend on the split.
    public static func backwardColumns(dy: UnsafePointer<Float>, into db: UnsafeMutablePointer<Float>,
                                       rows: Int, width: Int, pool: WorkerPool) {
        let p = UnsafeSendable((dy, db))
        // A block of at least 64 columns (whole cache lines of db), and enough rows to be worth it.
        pool.parallelFor(width, grain: max(64, Tensor.parallelGrain / max(rows, 1))) { cols in
            let (dy, db) = p.value
            for r in 0..<rows {
                let row = dy + r * width
                for i in cols { db[i] += row[i] }
            }
        }
    }
}
