import Foundation

/// Attention in tiles, never holding a `Tq × Tk` probability matrix (the method of FlashAttention;
/// docs/performance.md, "Long sequences").
///
/// The forward runs a tile of `queryTile` queries against blocks of `keyTile` keys: the block's
/// scores are one small matrix product, a running maximum and sum per query row keep the softmax
/// exact across blocks (the earlier blocks' partial output is rescaled when the maximum grows),
/// and the weighted values are a second product. What it keeps for backward is one number per
/// query row and head, the log of the softmax's denominator (`logSumExp`), next to the output.
/// The backward goes block by block again, recomputing each block's probabilities from that
/// number, so memory grows with the length, not its square.
///
/// Masking is the other paths' (`AttentionKernel`): keys past a query's causal limit and padded
/// keys are skipped, never weighted, and a query with no visible key outputs zeros (its
/// `logSumExp` is +inf, so its recomputed probabilities are zero). Blocks entirely past a tile's
/// causal limit are never computed.
extension AttentionKernel {
    /// Elements of the saved `logSumExp` `[B, Hq, Tq]`.
    public static func logSumExpCount(_ s: AttentionShape) -> Int { s.batch * s.queryHeads * s.queryLength }

    /// Fills `out` and `logSumExp` (saved for backward). Threads over (batch row, query head,
    /// query tile).
    public static func forwardTiled(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                    keyMask: [Int32]?, scale: Float, shape s: AttentionShape,
                                    out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>,
                                    tiling: AttentionTiling = .standard, pool: WorkerPool) {
        let queryTile = tiling.queries, keyTile = tiling.keys
        let p = UnsafeSendable((q, k, v, out, logSumExp))
        let mask = UnsafeSendable(keyMask)
        let d = s.headDim, tq = s.queryLength, tk = s.keyLength
        let ldq = s.queryHeads * d, ldk = s.keyValueHeads * d
        let tiles = (tq + queryTile - 1) / queryTile
        let unmasked = UnsafeSendable(unmaskedRows(keyMask, s))
        pool.parallelFor(s.batch * s.queryHeads * tiles, grain: 1) { r in
            let (q, k, v, out, logSumExp) = p.value
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: queryTile * keyTile)
            let acc = UnsafeMutablePointer<Float>.allocate(capacity: queryTile * d)
            let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: queryTile)
            let rowSum = UnsafeMutablePointer<Float>.allocate(capacity: queryTile)
            defer { scores.deallocate(); acc.deallocate(); rowMax.deallocate(); rowSum.deallocate() }
            for task in r {
                let bh = task / tiles, i0 = (task % tiles) * queryTile
                let b = bh / s.queryHeads, h = bh % s.queryHeads, g = h / s.group
                let rows = min(queryTile, tq - i0)
                let qp = q + (b * tq + i0) * ldq + h * d
                let kp = k + b * tk * ldk + g * d, vp = v + b * tk * ldk + g * d
                acc.update(repeating: 0, count: rows * d)
                rowMax.update(repeating: -.infinity, count: rows)
                rowSum.update(repeating: 0, count: rows)
                let tile = TileGeometry(firstQuery: i0, rows: rows, shape: s)
                var j0 = 0
                while j0 < tile.keyEnd {
                    let cols = min(keyTile, tile.keyEnd - j0)
                    Gemm.sgemm(transA: false, transB: true, m: rows, n: cols, k: d, alpha: scale,
                               a: qp, lda: ldq, b: kp + j0 * ldk, ldb: ldk, c: scores, ldc: keyTile, parallel: false)
                    for i in 0..<rows {
                        let row = scores + i * keyTile
                        let visible = tile.visibleCount(row: i, firstKey: j0, cols: cols)
                        if visible > 0 && !unmasked.value[b] {
                            hidePadding(row, count: visible, b: b, firstKey: j0, tk: tk, mask: mask.value)
                        }
                        let m = visible > 0 ? VectorMath.max(row, visible) : -.infinity
                        guard m > -.infinity else {
                            row.update(repeating: 0, count: cols)
                            continue
                        }
                        let newMax = Swift.max(rowMax[i], m)
                        // exp(-inf) = 0: the first block with a visible key discards nothing.
                        let correction = Foundation.exp(rowMax[i] - newMax)
                        let sum = VectorMath.expInPlaceSum(row, visible, shift: newMax)
                        if visible < cols { (row + visible).update(repeating: 0, count: cols - visible) }
                        if correction != 1 {
                            let a = acc + i * d
                            for c in 0..<d { a[c] *= correction }
                        }
                        rowSum[i] = rowSum[i] * correction + sum
                        rowMax[i] = newMax
                    }
                    Gemm.sgemm(transA: false, transB: false, m: rows, n: d, k: cols,
                               a: scores, lda: keyTile, b: vp + j0 * ldk, ldb: ldk, beta: 1, c: acc, ldc: d, parallel: false)
                    j0 += cols
                }
                let lse = logSumExp + bh * tq + i0
                for i in 0..<rows {
                    let o = out + (b * tq + i0 + i) * ldq + h * d
                    if rowSum[i] > 0 {
                        let inv = 1 / rowSum[i], a = acc + i * d
                        for c in 0..<d { o[c] = a[c] * inv }
                        lse[i] = rowMax[i] + Foundation.log(rowSum[i])
                    } else {
                        o.update(repeating: 0, count: d)
                        lse[i] = .infinity
                    }
                }
            }
        }
    }

    /// Accumulates dq, dk, dv from the forward's output and `logSumExp`. Threads over (batch row,
    /// key/value head), so the query heads sharing a key/value head never write the same slice of
    /// a gradient concurrently; within one, key blocks in the outer loop, query tiles inside.
    public static func backwardTiled(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                     out: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>,
                                     dOut: UnsafePointer<Float>, keyMask: [Int32]?, scale: Float, shape s: AttentionShape,
                                     dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
                                     dv: UnsafeMutablePointer<Float>?, tiling: AttentionTiling = .standard,
                                     pool: WorkerPool) {
        let queryTile = tiling.queries, keyTile = tiling.keys
        let p = UnsafeSendable((q, k, v, out, logSumExp, dOut, dq, dk, dv))
        let mask = UnsafeSendable(keyMask)
        let d = s.headDim, tq = s.queryLength, tk = s.keyLength
        let ldq = s.queryHeads * d, ldk = s.keyValueHeads * d
        let needScores = dq != nil || dk != nil
        let unmasked = UnsafeSendable(unmaskedRows(keyMask, s))
        pool.parallelFor(s.batch * s.keyValueHeads, grain: 1) { r in
            let (q, k, v, out, logSumExp, dOut, dq, dk, dv) = p.value
            let probs = UnsafeMutablePointer<Float>.allocate(capacity: queryTile * keyTile)
            let dS = UnsafeMutablePointer<Float>.allocate(capacity: queryTile * keyTile)
            // delta[h, i] = dO_i · O_i: the softmax gradient's row sum of P * dP.
            let delta = UnsafeMutablePointer<Float>.allocate(capacity: max(s.group * tq, 1))
            defer { probs.deallocate(); dS.deallocate(); delta.deallocate() }
            for bg in r {
                let b = bg / s.keyValueHeads, g = bg % s.keyValueHeads
                let kOff = b * tk * ldk + g * d
                let heads = (g * s.group)..<((g + 1) * s.group)
                if needScores {
                    for h in heads {
                        for i in 0..<tq {
                            let o = (b * tq + i) * ldq + h * d
                            delta[(h - heads.lowerBound) * tq + i] = VectorMath.dot(dOut + o, out + o, d)
                        }
                    }
                }
                var j0 = 0
                while j0 < tk {
                    let cols = min(keyTile, tk - j0)
                    // The first query that sees key j0 sits at j0 - offset.
                    let firstTile = Swift.max(0, j0 - s.offset) / queryTile * queryTile
                    for h in heads {
                        let bh = b * s.queryHeads + h
                        var i0 = firstTile
                        while i0 < tq {
                            let rows = min(queryTile, tq - i0)
                            let qOff = (b * tq + i0) * ldq + h * d
                            let tile = TileGeometry(firstQuery: i0, rows: rows, shape: s)
                            Gemm.sgemm(transA: false, transB: true, m: rows, n: cols, k: d, alpha: scale,
                                       a: q + qOff, lda: ldq, b: k + kOff + j0 * ldk, ldb: ldk,
                                       c: probs, ldc: keyTile, parallel: false)
                            for i in 0..<rows {
                                let row = probs + i * keyTile
                                let lse = logSumExp[bh * tq + i0 + i]
                                let visible = lse == .infinity ? 0 : tile.visibleCount(row: i, firstKey: j0, cols: cols)
                                if visible > 0 {
                                    if !unmasked.value[b] {
                                        hidePadding(row, count: visible, b: b, firstKey: j0, tk: tk, mask: mask.value)
                                    }
                                    _ = VectorMath.expInPlaceSum(row, visible, shift: lse)
                                }
                                let start = Swift.max(visible, 0)
                                if start < cols { (row + start).update(repeating: 0, count: cols - start) }
                            }
                            // dV += P^T dO
                            if let dv {
                                Gemm.sgemm(transA: true, transB: false, m: cols, n: d, k: rows,
                                           a: probs, lda: keyTile, b: dOut + qOff, ldb: ldq, beta: 1,
                                           c: dv + kOff + j0 * ldk, ldc: ldk, parallel: false)
                            }
                            if needScores {
                                // dS = P * (dO V^T - delta); zero wherever P is (hidden keys).
                                Gemm.sgemm(transA: false, transB: true, m: rows, n: cols, k: d,
                                           a: dOut + qOff, lda: ldq, b: v + kOff + j0 * ldk, ldb: ldk,
                                           c: dS, ldc: keyTile, parallel: false)
                                let dl = delta + (h - heads.lowerBound) * tq + i0
                                for i in 0..<rows {
                                    VectorMath.softmaxGradient(probs + i * keyTile, dS + i * keyTile, cols, rowDot: dl[i])
                                }
                                // dQ += scale dS K ; dK += scale dS^T Q
                                if let dq {
                                    Gemm.sgemm(transA: false, transB: false, m: rows, n: d, k: cols, alpha: scale,
                                               a: dS, lda: keyTile, b: k + kOff + j0 * ldk, ldb: ldk, beta: 1,
                                               c: dq + qOff, ldc: ldq, parallel: false)
                                }
                                if let dk {
                                    Gemm.sgemm(transA: true, transB: false, m: cols, n: d, k: rows, alpha: scale,
                                               a: dS, lda: keyTile, b: q + qOff, ldb: ldq, beta: 1,
                                               c: dk + kOff + j0 * ldk, ldc: ldk, parallel: false)
                                }
                            }
                            i0 += queryTile
                        }
                    }
                    j0 += cols
                }
            }
        }
    }

    /// Scores of padded keys among a row's first `count` become -inf, so they weigh exactly 0.
    @inline(__always)
    static func hidePadding(_ row: UnsafeMutablePointer<Float>, count: Int, b: Int, firstKey: Int, tk: Int,
                            mask: [Int32]?) {
        guard let mask else { return }
        let base = b * tk + firstKey
        for c in 0..<count where mask[base + c] == 0 { row[c] = -.infinity }
    }
}

/// Queries per tile and keys per block of the tiled path.
public struct AttentionTiling: Sendable {
    public let queries, keys: Int

    public init(queries: Int, keys: Int) {
        precondition(queries > 0 && keys > 0, "attention tiles need at least one query and one key")
        self.queries = queries; self.keys = keys
    }

    /// A block's scores (64 × 256 floats, 64 KiB) and their gradient stay in a core's L2 cache
    /// with the tile's queries and the block's keys.
    public static let standard = AttentionTiling(queries: 64, keys: 256)
}

/// Which keys a tile of queries may see: query `i` (absolute `i + offset`) sees keys `0...i + offset`.
struct TileGeometry {
    let firstQuery, offset: Int
    /// One past the last key any query of the tile sees.
    let keyEnd: Int

    init(firstQuery: Int, rows: Int, shape s: AttentionShape) {
        self.firstQuery = firstQuery
        offset = s.offset
        keyEnd = Swift.min(s.keyLength, firstQuery + rows + s.offset)
    }

    /// How many of the block's `cols` keys starting at `firstKey` the tile's row `row` sees
    /// (a prefix of the block; 0 or less when none).
    @inline(__always)
    func visibleCount(row: Int, firstKey: Int, cols: Int) -> Int {
        Swift.min(cols, firstQuery + row + offset + 1 - firstKey)
    }
}
