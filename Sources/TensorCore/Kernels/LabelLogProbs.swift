import Foundation

/// The log-probability of each next label: `lp[n, t] = log_softmax(z[n, t, :])[y[n, t + 1]]`
/// for `t < T - 1`, and 0 where the label is -100. Fused: one pass computes the row's
/// log-sum-exp and gathers, so no `[N, T, V]` log-softmax is ever materialised; only the
/// per-row log-sum-exp is kept for backward.
public enum LabelLogProbsKernel {
    public static let ignoreIndex: Int32 = -100

    public static func forward(logits z: UnsafePointer<Float>, labels: [Int32], batch: Int, length: Int, vocab: Int,
                               out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let p = UnsafeSendable((z, out, logSumExp))
        let rows = batch * (length - 1)
        labels.withUnsafeBufferPointer { lb in
            let labels = UnsafeSendable(lb)
            pool.parallelFor(rows, grain: max(1, 16384 / max(vocab, 1))) { r in
                let (z, out, lse) = p.value
                for row in r {
                    let n = row / (length - 1), t = row % (length - 1)
                    let y = labels.value[n * length + t + 1]
                    if y == ignoreIndex { out[row] = 0; lse[row] = 0; continue }
                    let zr = z + (n * length + t) * vocab
                    let m = VectorMath.max(zr, vocab)
                    let l = m + Foundation.log(VectorMath.sumExp(zr, vocab, shift: m))
                    lse[row] = l
                    out[row] = zr[Int(y)] - l
                }
            }
        }
    }

    /// `dz[n, t, k] += g[n, t] * (1[k == y] - softmax(z[n, t])_k)` on labelled positions only.
    public static func backward(logits z: UnsafePointer<Float>, labels: [Int32], batch: Int, length: Int, vocab: Int,
                                logSumExp: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                dLogits: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let p = UnsafeSendable((z, logSumExp, dOut, dLogits))
        let rows = batch * (length - 1)
        labels.withUnsafeBufferPointer { lb in
            let labels = UnsafeSendable(lb)
            pool.parallelFor(rows, grain: max(1, 16384 / max(vocab, 1))) { r in
                let (z, lse, dOut, dz) = p.value
                for row in r {
                    let n = row / (length - 1), t = row % (length - 1)
                    let y = labels.value[n * length + t + 1]
                    if y == ignoreIndex { continue }
                    let g = dOut[row]
                    if g == 0 { continue }
                    let base = (n * length + t) * vocab
                    let zr = z + base, dr = dz + base, l = lse[row]
                    VectorMath.addScaledExp(zr, dr, vocab, shift: l, a: -g)
                    dr[Int(y)] += g
                }
            }
        }
    }
}
