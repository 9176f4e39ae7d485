import Foundation

/// TDPO's per-position KL of the reference from the policy, fused over the vocabulary:
/// `kl[n, t] = sum_v pR[v] (lpR[v] - lpP[v])` with `lp = log_softmax(logits[n, t, :])` and
/// `pR = exp(lpR)`, for `t < T - 1` and only where `mask[n, t] != 0` (0 elsewhere). One pass per
/// row finds each row's log-sum-exp, a second sums the KL; only the two per-row log-sum-exps are
/// kept for backward, never a `[N, T, V]` softmax.
public enum TokenKLKernel {
    /// Returns the kept rows where `pR` has an exact 0 (where `log(softmax)` would be -inf).
    @discardableResult
    public static func forward(policy z: UnsafePointer<Float>, reference r: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                               batch: Int, length: Int, vocab: Int, out: UnsafeMutablePointer<Float>,
                               policyLSE: UnsafeMutablePointer<Float>, referenceLSE: UnsafeMutablePointer<Float>,
                               pool: WorkerPool) -> Int {
        let rows = batch * (length - 1)
        let underflows = UnsafeMutablePointer<Int32>.allocate(capacity: max(rows, 1))
        defer { underflows.deallocate() }
        let p = UnsafeSendable((z, r, mask, out, policyLSE, referenceLSE, underflows))
        pool.parallelFor(rows, grain: max(1, 8192 / max(vocab, 1))) { range in
            let (z, r, mask, out, lseP, lseR, zeros) = p.value
            for row in range {
                zeros[row] = 0
                guard mask[row] != 0 else { out[row] = 0; lseP[row] = 0; lseR[row] = 0; continue }
                let n = row / (length - 1), t = row % (length - 1)
                let base = (n * length + t) * vocab
                let zr = z + base, rr = r + base
                let mz = VectorMath.max(zr, vocab), mr = VectorMath.max(rr, vocab)
                let lz = mz + Foundation.log(VectorMath.sumExp(zr, vocab, shift: mz))
                let lr = mr + Foundation.log(VectorMath.sumExp(rr, vocab, shift: mr))
                lseP[row] = lz
                lseR[row] = lr
                let (kl, zeroCount) = klSum(policy: zr, reference: rr, vocab, policyLSE: lz, referenceLSE: lr)
                out[row] = kl
                zeros[row] = Int32(zeroCount)
            }
        }
        var count = 0
        for i in 0..<rows where underflows[i] > 0 { count += 1 }
        return count
    }

    /// `sum_v pR (lpR - lpP)` of one row, and how many `pR` are exactly 0.
    @inline(__always)
    static func klSum(policy zr: UnsafePointer<Float>, reference rr: UnsafePointer<Float>, _ vocab: Int,
                      policyLSE lz: Float, referenceLSE lr: Float) -> (Float, Int) {
        typealias V = VectorMath.V
        var acc = V(), zeros = 0
        var i = 0
        let lzv = V(repeating: lz), lrv = V(repeating: lr)
        while i + 8 <= vocab {
            let lpR = VectorMath.load(rr + i) - lrv
            let pR = VectorMath.exp(lpR)
            zeros += (0..<8).reduce(0) { $0 + (pR[$1] == 0 ? 1 : 0) }
            acc += pR * (lpR - (VectorMath.load(zr + i) - lzv))
            i += 8
        }
        var total = acc.sum()
        while i < vocab {
            let lpR = rr[i] - lr
            let pR = Foundation.exp(lpR)
            if pR == 0 { zeros += 1 }
            total += pR * (lpR - (zr[i] - lz))
            i += 1
        }
        return (total, zeros)
    }

    /// Gradients of the kept rows: `dz += g (pP - pR)` for the policy and, when `dReference` is
    /// given, `dr += g pR ((lpR - lpP) - kl)` for the reference.
    public static func backward(policy z: UnsafePointer<Float>, reference r: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                                batch: Int, length: Int, vocab: Int, kl: UnsafePointer<Float>,
                                policyLSE: UnsafePointer<Float>, referenceLSE: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                dPolicy: UnsafeMutablePointer<Float>?, dReference: UnsafeMutablePointer<Float>?, pool: WorkerPool) {
        let rows = batch * (length - 1)
        let p = UnsafeSendable((z, r, mask, kl, policyLSE, referenceLSE, dOut, dPolicy, dReference))
        pool.parallelFor(rows, grain: max(1, 8192 / max(vocab, 1))) { range in
            typealias V = VectorMath.V
            let (z, r, mask, kl, lseP, lseR, dOut, dz, dr) = p.value
            for row in range {
                let g = dOut[row]
                guard mask[row] != 0, g != 0 else { continue }
                let n = row / (length - 1), t = row % (length - 1)
                let base = (n * length + t) * vocab
                let zr = z + base, rr = r + base
                let lzv = V(repeating: lseP[row]), lrv = V(repeating: lseR[row]), gv = V(repeating: g)
                let klv = V(repeating: kl[row])
                var i = 0
                while i + 8 <= vocab {
                    let lpP = VectorMath.load(zr + i) - lzv, lpR = VectorMath.load(rr + i) - lrv
                    let pR = VectorMath.exp(lpR)
                    if let dz { VectorMath.store(VectorMath.load(dz + base + i) + gv * (VectorMath.exp(lpP) - pR), dz + base + i) }
                    if let dr { VectorMath.store(VectorMath.load(dr + base + i) + gv * pR * ((lpR - lpP) - klv), dr + base + i) }
                    i += 8
                }
                while i < vocab {
                    let lpP = zr[i] - lseP[row], lpR = rr[i] - lseR[row]
                    let pR = Foundation.exp(lpR)
                    if let dz { dz[base + i] += g * (Foundation.exp(lpP) - pR) }
                    if let dr { dr[base + i] += g * pR * ((lpR - lpP) - kl[row]) }
                    i += 1
                }
            }
        }
    }
}
