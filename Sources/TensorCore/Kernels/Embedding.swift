/// Embedding lookup: `y[i, :] = table[ids[i], :]`; backward scatter-adds rows into the table's
/// gradient (parallel over columns, so repeated ids never race).
public enum EmbeddingKernel {
    public static func forward(ids: [Int32], table: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                               width: Int, pool: WorkerPool) {
        let p = UnsafeSendable((table, y))
        ids.withUnsafeBufferPointer { idp in
            let ids = UnsafeSendable(idp)
            pool.parallelFor(idp.count, grain: max(1, 16384 / max(width, 1))) { r in
                let (table, y) = p.value
                for i in r {
                    (y + i * width).update(from: table + Int(ids.value[i]) * width, count: width)
                }
            }
        }
    }

    public static func backward(ids: [Int32], dy: UnsafePointer<Float>, dtable: UnsafeMutablePointer<Float>,
                                width: Int, pool: WorkerPool) {
        let p = UnsafeSendable((dy, dtable))
        ids.withUnsafeBufferPointer { idp in
            let ids = UnsafeSendable(idp)
            pool.parallelFor(width, grain: 64) { cols in
                let (dy, dt) = p.value
                for (i, id) in ids.value.enumerated() {
                    let src = dy + i * width, dst = dt + Int(id) * width
                    for c in cols { dst[c] += src[c] }
                }
            }
        }
    }
}
