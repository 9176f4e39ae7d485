import Foundation

/// Causal multi-head self-attention with a key padding mask and grouped-query sharing.
///
/// Layouts (dense): query `[B, Tq, Hq, d]`, key/value `[B, Tk, Hkv, d]`, output `[B, Tq, Hq, d]`.
/// Query `i` sits at absolute position `i + (Tk - Tq)` (so a key/value cache works), and sees key
/// `j` iff `j <= i + Tk - Tq` and `keyMask[b, j] != 0`. Hidden keys are SKIPPED, not weighted
/// by zero, in the softmax, so a NaN or -inf score from a padded row cannot leak; a query with no
/// visible key outputs zeros (so every row the model computes, and thus every value row, is finite,
/// and hidden value rows enter the weighted sum with weight exactly 0).
/// Query head `h` uses key/value head `h / (Hq / Hkv)`. Per (batch, head) the scores and the
/// weighted sum are two `sgemm`s over strided head slices (leading dimension `H * d`), each on one
/// thread: the parallelism is over (batch, head). Heads of 8 or 16 take the
/// small-head path instead (AttentionSmallHead.swift), and from `tiledFromKeyLength` keys on
/// every head takes the tiled path (AttentionTiled.swift); same results to float rounding.
public struct AttentionShape: Sendable {
    public let batch, queryLength, keyLength, queryHeads, keyValueHeads, headDim: Int
    public var group: Int { queryHeads / keyValueHeads }
    public var offset: Int { keyLength - queryLength }

    public init(batch: Int, queryLength: Int, keyLength: Int, queryHeads: Int, keyValueHeads: Int, headDim: Int) {
        self.batch = batch; self.queryLength = queryLength; self.keyLength = keyLength
        self.queryHeads = queryHeads; self.keyValueHeads = keyValueHeads; self.headDim = headDim
    }

    /// Elements of the saved attention probabilities `[B, Hq, Tq, Tk]`.
    public var probabilityCount: Int { batch * queryHeads * queryLength * keyLength }
}

/// How attention keeps what its backward needs: every probability (`[B, Hq, Tq, Tk]`, the
/// matrix-product and small-head paths) or one log-sum-exp per query row and head (the tiled
/// path, AttentionTiled.swift), whose memory grows with the length rather than its square.
public enum AttentionMethod: String, Sendable, CaseIterable {
    case materialized, tiled
}

public enum AttentionKernel {
    /// The environment variable that forces one method (`materialized` or `tiled`; `auto`, the
    /// default, chooses by length).
    public static let environmentVariable = "DPOHOST_ATTENTION"

    /// The method every attention takes, or nil to choose by length. Process-wide like the
    /// row kernels' vector unit; tests set it to run every model through either path.
    nonisolated(unsafe) public static var forcedMethod: AttentionMethod? = {
        guard let text = ProcessInfo.processInfo.environment[environmentVariable]?.lowercased(), text != "auto" else {
            return nil
        }
        guard let method = AttentionMethod(rawValue: text) else {
            FileHandle.standardError.write(Data("warning: \(environmentVariable)=\(text) is not auto, materialized or tiled; choosing by length\n".utf8))
            return nil
        }
        return method
    }()

    /// From this many keys on, attention runs tiled: below it the whole-row products are faster
    /// (measured by `dpohost bench kernels`, docs/performance.md "Long sequences").
    public static let tiledFromKeyLength = 512

    /// The method `Tape.attention` takes for this shape.
    public static func method(for s: AttentionShape) -> AttentionMethod {
        forcedMethod ?? (s.keyLength >= tiledFromKeyLength ? .tiled : .materialized)
    }

    /// Fills `out` and the probabilities `probs` (saved for backward).
    public static func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               keyMask: [Int32]?, scale: Float, shape s: AttentionShape,
                               out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        if usesSmallHeadKernel(s) {
            forwardSmallHead(q: q, k: k, v: v, keyMask: keyMask, scale: scale, shape: s, out: out, probs: probs, pool: pool)
        } else {
            forwardProducts(q: q, k: k, v: v, keyMask: keyMask, scale: scale, shape: s, out: out, probs: probs, pool: pool)
        }
    }

    /// The forward as two `sgemm`s per (batch, head).
    public static func forwardProducts(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                       keyMask: [Int32]?, scale: Float, shape s: AttentionShape,
                                       out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                                       pool: WorkerPool) {
        let p = UnsafeSendable((q, k, v, out, probs))
        let mask = UnsafeSendable(keyMask)
        let d = s.headDim, tq = s.queryLength, tk = s.keyLength
        let ldq = s.queryHeads * d, ldk = s.keyValueHeads * d
        // Rows whose keys are all real take the vectorised path.
        let unmasked = UnsafeSendable(unmaskedRows(keyMask, s))
        pool.parallelFor(s.batch * s.queryHeads, grain: 1) { r in
            let (q, k, v, out, probs) = p.value
            for bh in r {
                let b = bh / s.queryHeads, h = bh % s.queryHeads, g = h / s.group
                let qp = q + b * tq * ldq + h * d
                let kp = k + b * tk * ldk + g * d
                let vp = v + b * tk * ldk + g * d
                let pr = probs + bh * tq * tk
                // scores = scale * Q K^T, then a masked softmax row by row
                Gemm.sgemm(transA: false, transB: true, m: tq, n: tk, k: d, alpha: scale,
                           a: qp, lda: ldq, b: kp, ldb: ldk, c: pr, ldc: tk, parallel: false)
                for i in 0..<tq {
                    let row = pr + i * tk
                    let last = min(tk - 1, i + s.offset)
                    if unmasked.value[b] {
                        softmaxPrefix(row, count: last + 1, width: tk)
                    } else {
                        maskedSoftmax(row, last: last, b: b, tk: tk, mask: mask.value)
                    }
                }
                // out = P V
                Gemm.sgemm(transA: false, transB: false, m: tq, n: d, k: tk,
                           a: pr, lda: tk, b: vp, ldb: ldk, c: out + b * tq * ldq + h * d, ldc: ldq, parallel: false)
            }
        }
    }

    /// Per batch row: true when none of its keys is padding (the vectorised softmax applies).
    static func unmaskedRows(_ keyMask: [Int32]?, _ s: AttentionShape) -> [Bool] {
        (0..<s.batch).map { b in
            keyMask.map { m in !m[(b * s.keyLength)..<((b + 1) * s.keyLength)].contains(0) } ?? true
        }
    }

    /// Softmax over `row[0..<count]` (the causal prefix), zeros over `row[count..<width]`.
    @inline(__always)
    static func softmaxPrefix(_ row: UnsafeMutablePointer<Float>, count: Int, width: Int) {
        if count > 0 {
            let m = VectorMath.max(row, count)
            let sum = VectorMath.expInPlaceSum(row, count, shift: m)
            let inv = 1 / sum
            for j in 0..<count { row[j] *= inv }
        }
        if count < width { (row + max(count, 0)).update(repeating: 0, count: width - max(count, 0)) }
    }

    /// The padded case: hidden keys are skipped (never weighted), a row with none visible is zero.
    static func maskedSoftmax(_ row: UnsafeMutablePointer<Float>, last: Int, b: Int, tk: Int, mask: [Int32]?) {
        var m = -Float.infinity
        var anyVisible = false
        if last >= 0 {
            for j in 0...last where visible(mask, b, j, tk) { m = max(m, row[j]); anyVisible = true }
        }
        guard anyVisible else {
            for j in 0..<tk { row[j] = 0 }
            return
        }
        var sum: Float = 0
        for j in 0..<tk {
            if j <= last && visible(mask, b, j, tk) {
                let e = Foundation.exp(row[j] - m); row[j] = e; sum += e
            } else { row[j] = 0 }
        }
        let inv = 1 / sum
        for j in 0...last { row[j] *= inv }
    }

    @inline(__always)
    static func visible(_ mask: [Int32]?, _ b: Int, _ j: Int, _ tk: Int) -> Bool {
        guard let mask else { return true }
        return mask[b * tk + j] != 0
    }

    /// Accumulates dq, dk, dv. Work is split by (batch, key/value head) so the query heads that
    /// share one key/value head never write the same gradient slice concurrently.
    public static func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                probs: UnsafePointer<Float>, dOut: UnsafePointer<Float>, scale: Float,
                                shape s: AttentionShape,
                                dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
                                dv: UnsafeMutablePointer<Float>?, pool: WorkerPool) {
        if usesSmallHeadKernel(s) {
            backwardSmallHead(q: q, k: k, v: v, probs: probs, dOut: dOut, scale: scale, shape: s,
                              dq: dq, dk: dk, dv: dv, pool: pool)
        } else {
            backwardProducts(q: q, k: k, v: v, probs: probs, dOut: dOut, scale: scale, shape: s,
                             dq: dq, dk: dk, dv: dv, pool: pool)
        }
    }

    /// The backward as four `sgemm`s per (batch, query head).
    public static func backwardProducts(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                        probs: UnsafePointer<Float>, dOut: UnsafePointer<Float>, scale: Float,
                                        shape s: AttentionShape,
                                        dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
                                        dv: UnsafeMutablePointer<Float>?, pool: WorkerPool) {
        let p = UnsafeSendable((q, k, v, probs, dOut, dq, dk, dv))
        let d = s.headDim, tq = s.queryLength, tk = s.keyLength
        let ldq = s.queryHeads * d, ldk = s.keyValueHeads * d
        pool.parallelFor(s.batch * s.keyValueHeads, grain: 1) { r in
            let (q, k, v, probs, dOut, dq, dk, dv) = p.value
            let dP = UnsafeMutablePointer<Float>.allocate(capacity: max(tq * tk, 1))
            defer { dP.deallocate() }
            for bg in r {
                let b = bg / s.keyValueHeads, g = bg % s.keyValueHeads
                for h in (g * s.group)..<((g + 1) * s.group) {
                    let bh = b * s.queryHeads + h
                    let pr = probs + bh * tq * tk
                    let qOff = b * tq * ldq + h * d, kOff = b * tk * ldk + g * d
                    // dV += P^T dO
                    if let dv {
                        Gemm.sgemm(transA: true, transB: false, m: tk, n: d, k: tq,
                                   a: pr, lda: tk, b: dOut + qOff, ldb: ldq, beta: 1, c: dv + kOff, ldc: ldk, parallel: false)
                    }
                    guard dq != nil || dk != nil else { continue }
                    // dP = dO V^T; dS = P * (dP - rowsum(dP * P))  (zero where P is zero: hidden keys)
                    Gemm.sgemm(transA: false, transB: true, m: tq, n: tk, k: d,
                               a: dOut + qOff, lda: ldq, b: v + kOff, ldb: ldk, c: dP, ldc: tk, parallel: false)
                    for i in 0..<tq {
                        let pRow = pr + i * tk, dRow = dP + i * tk
                        var dot: Float = 0
                        for j in 0..<tk { dot += pRow[j] * dRow[j] }
                        for j in 0..<tk { dRow[j] = pRow[j] * (dRow[j] - dot) }
                    }
                    // dQ += scale * dS K ; dK += scale * dS^T Q
                    if let dq {
                        Gemm.sgemm(transA: false, transB: false, m: tq, n: d, k: tk, alpha: scale,
                                   a: dP, lda: tk, b: k + kOff, ldb: ldk, beta: 1, c: dq + qOff, ldc: ldq, parallel: false)
                    }
                    if let dk {
                        Gemm.sgemm(transA: true, transB: false, m: tk, n: d, k: tq, alpha: scale,
                                   a: dP, lda: tk, b: q + qOff, ldb: ldq, beta: 1, c: dk + kOff, ldc: ldk, parallel: false)
                    }
                }
            }
        }
    }
}
