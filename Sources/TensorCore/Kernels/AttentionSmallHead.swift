/// Attention for small heads without matrix-product calls: taken for `d` of 8 or 16, callable
/// for any multiple of 8 (`bench kernels --row-kernels-only` compares both paths: at d = 16 this
/// one is 25-30 % faster, at 32 they are even, at 64 the products win).
///
/// With heads this narrow, the two `sgemm`s per (batch, head) spend more time packing operands
/// than multiplying, and they compute every score although causality hides about half of them.
/// Here each query row computes only the scores of the keys it may see, eight keys per vector
/// against a transposed copy of the head's keys, and each weighted sum runs over those keys
/// only. The masking and the softmax are the matrix-product path's own (`AttentionKernel`), so
/// hidden keys are skipped the same way; entries of a row past its last visible key are zero in
/// the saved probabilities, as there.
extension AttentionKernel {
    /// Whether `forward`/`backward` take the small-head path for this shape.
    public static func usesSmallHeadKernel(_ s: AttentionShape) -> Bool {
        s.headDim % 8 == 0 && s.headDim <= 16
    }

    public static func forwardSmallHead(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                        keyMask: [Int32]?, scale: Float, shape s: AttentionShape,
                                        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                                        pool: WorkerPool) {
        precondition(s.headDim % 8 == 0, "small-head attention needs a head size that is a multiple of 8")
        let p = UnsafeSendable((q, k, v, out, probs))
        let mask = UnsafeSendable(keyMask)
        let d = s.headDim, tq = s.queryLength, tk = s.keyLength
        let ldq = s.queryHeads * d, ldk = s.keyValueHeads * d
        let unmasked = unmaskedRows(keyMask, s)
        pool.parallelFor(s.batch * s.queryHeads, grain: 1) { r in
            let (q, k, v, out, probs) = p.value
            let keys = TransposedHead(length: tk, headDim: d)
            defer { keys.deallocate() }
            var packed = -1
            for bh in r {
                let b = bh / s.queryHeads, h = bh % s.queryHeads, g = h / s.group
                let kp = k + b * tk * ldk + g * d, vp = v + b * tk * ldk + g * d
                if packed != b * s.keyValueHeads + g {
                    keys.pack(kp, ld: ldk)
                    packed = b * s.keyValueHeads + g
                }
                for i in 0..<tq {
                    let row = probs + (bh * tq + i) * tk
                    let last = min(tk - 1, i + s.offset)
                    let qi = q + (b * tq + i) * ldq + h * d
                    keys.dotRow(qi, count: last + 1, scale: scale, out: row)
                    if unmasked[b] {
                        softmaxPrefix(row, count: last + 1, width: tk)
                    } else {
                        maskedSoftmax(row, last: last, b: b, tk: tk, mask: mask.value)
                    }
                    weightedSum(row, weightStride: 1, count: last + 1, rows: vp, ld: ldk, headDim: d, alpha: 1,
                                into: out + (b * tq + i) * ldq + h * d, accumulate: false)
                }
            }
        }
    }

    /// Accumulates dq, dk, dv, split by (batch, key/value head) like the matrix-product path.
    public static func backwardSmallHead(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                         probs: UnsafePointer<Float>, dOut: UnsafePointer<Float>, scale: Float,
                                         shape s: AttentionShape,
                                         dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
                                         dv: UnsafeMutablePointer<Float>?, pool: WorkerPool) {
        precondition(s.headDim % 8 == 0, "small-head attention needs a head size that is a multiple of 8")
        let p = UnsafeSendable((q, k, v, probs, dOut, dq, dk, dv))
        let d = s.headDim, tq = s.queryLength, tk = s.keyLength
        let ldq = s.queryHeads * d, ldk = s.keyValueHeads * d
        let needScores = dq != nil || dk != nil
        // Key j is seen by queries i >= j - offset; P (and so dS) is zero elsewhere.
        let firstQuery = { (j: Int) in max(0, j - s.offset) }
        pool.parallelFor(s.batch * s.keyValueHeads, grain: 1) { r in
            let (q, k, v, probs, dOut, dq, dk, dv) = p.value
            let values = TransposedHead(length: tk, headDim: d)
            let dS = UnsafeMutablePointer<Float>.allocate(capacity: max(tq * tk, 1))
            defer { values.deallocate(); dS.deallocate() }
            for bg in r {
                let b = bg / s.keyValueHeads, g = bg % s.keyValueHeads
                let kOff = b * tk * ldk + g * d
                let kp = k + kOff, vp = v + kOff
                if needScores { values.pack(vp, ld: ldk) }
                for h in (g * s.group)..<((g + 1) * s.group) {
                    let pr = probs + (b * s.queryHeads + h) * tq * tk
                    let qOff = b * tq * ldq + h * d
                    let qp = q + qOff, dop = dOut + qOff
                    if let dv {
                        for j in 0..<tk where firstQuery(j) < tq {
                            let i0 = firstQuery(j)
                            weightedSum(pr + i0 * tk + j, weightStride: tk, count: tq - i0, rows: dop + i0 * ldq,
                                        ld: ldq, headDim: d, alpha: 1, into: dv + kOff + j * ldk, accumulate: true)
                        }
                    }
                    guard needScores else { continue }
                    // dS = P * (dO V^T - rowsum(P * dO V^T)) over each row's visible prefix.
                    for i in 0..<tq {
                        let last = min(tk - 1, i + s.offset)
                        if last < 0 { continue }
                        let pRow = pr + i * tk, dRow = dS + i * tk
                        values.dotRow(dop + i * ldq, count: last + 1, scale: 1, out: dRow)
                        let dot = VectorMath.dot(pRow, dRow, last + 1)
                        for j in 0...last { dRow[j] = pRow[j] * (dRow[j] - dot) }
                        if let dq {
                            weightedSum(dRow, weightStride: 1, count: last + 1, rows: kp, ld: ldk, headDim: d,
                                        alpha: scale, into: dq + qOff + i * ldq, accumulate: true)
                        }
                    }
                    if let dk {
                        for j in 0..<tk where firstQuery(j) < tq {
                            let i0 = firstQuery(j)
                            weightedSum(dS + i0 * tk + j, weightStride: tk, count: tq - i0, rows: qp + i0 * ldq,
                                        ld: ldq, headDim: d, alpha: scale, into: dk + kOff + j * ldk,
                                        accumulate: true)
                        }
                    }
                }
            }
        }
    }

    /// `out (+)= alpha * sum_n w[n * weightStride] * rows[n * ld ..< n * ld + d]`, one head row,
    /// in 16- and 8-wide column passes. Four terms are in flight at once (n mod 4 each have their
    /// own accumulators): a single chain of multiply-adds would wait on its own latency.
    @inline(__always)
    static func weightedSum(_ w: UnsafePointer<Float>, weightStride: Int, count: Int,
                            rows: UnsafePointer<Float>, ld: Int, headDim d: Int, alpha: Float,
                            into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        typealias V = VectorMath.V
        if d == 16 {
            weightedSum16(w, weightStride: weightStride, count: count, rows: rows, ld: ld, alpha: alpha,
                          into: out, accumulate: accumulate)
            return
        }
        var c = 0
        while c < d {
            let wide = c + 16 <= d
            var lo = (V(), V(), V(), V()), hi = (V(), V(), V(), V())
            var wp = w, rp = rows + c
            var n = 0
            while n + 4 <= count {
                let x0 = V(repeating: wp.pointee), x1 = V(repeating: wp[weightStride])
                let x2 = V(repeating: wp[2 * weightStride]), x3 = V(repeating: wp[3 * weightStride])
                lo.0 = fma(x0, load(rp), lo.0)
                lo.1 = fma(x1, load(rp + ld), lo.1)
                lo.2 = fma(x2, load(rp + 2 * ld), lo.2)
                lo.3 = fma(x3, load(rp + 3 * ld), lo.3)
                if wide {
                    hi.0 = fma(x0, load(rp + 8), hi.0)
                    hi.1 = fma(x1, load(rp + ld + 8), hi.1)
                    hi.2 = fma(x2, load(rp + 2 * ld + 8), hi.2)
                    hi.3 = fma(x3, load(rp + 3 * ld + 8), hi.3)
                }
                wp += 4 * weightStride; rp += 4 * ld; n += 4
            }
            while n < count {
                let x = V(repeating: wp.pointee)
                lo.0 = fma(x, load(rp), lo.0)
                if wide { hi.0 = fma(x, load(rp + 8), hi.0) }
                wp += weightStride; rp += ld; n += 1
            }
            let a0 = (lo.0 + lo.1) + (lo.2 + lo.3), a1 = (hi.0 + hi.1) + (hi.2 + hi.3)
            let av = V(repeating: alpha)
            if accumulate {
                store(load(out + c) + av * a0, out + c)
                if wide { store(load(out + c + 8) + av * a1, out + c + 8) }
            } else {
                store(alpha == 1 ? a0 : av * a0, out + c)
                if wide { store(alpha == 1 ? a1 : av * a1, out + c + 8) }
            }
            c += wide ? 16 : 8
        }
    }

    /// `weightedSum` for heads of 16 (the common small head): the loop of the general one without
    /// its per-step width test, which kept its eight accumulators from staying in registers.
    @inline(__always)
    static func weightedSum16(_ w: UnsafePointer<Float>, weightStride ws: Int, count: Int,
                              rows: UnsafePointer<Float>, ld: Int, alpha: Float,
                              into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        typealias V = VectorMath.V
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), b0 = V(), b1 = V(), b2 = V(), b3 = V()
        var wp = w, rp = rows
        var n = 0
        while n + 4 <= count {
            let x0 = V(repeating: wp.pointee), x1 = V(repeating: wp[ws])
            let x2 = V(repeating: wp[2 * ws]), x3 = V(repeating: wp[3 * ws])
            a0 = fma(x0, load(rp), a0)
            b0 = fma(x0, load(rp + 8), b0)
            a1 = fma(x1, load(rp + ld), a1)
            b1 = fma(x1, load(rp + ld + 8), b1)
            a2 = fma(x2, load(rp + 2 * ld), a2)
            b2 = fma(x2, load(rp + 2 * ld + 8), b2)
            a3 = fma(x3, load(rp + 3 * ld), a3)
            b3 = fma(x3, load(rp + 3 * ld + 8), b3)
            wp += 4 * ws; rp += 4 * ld; n += 4
        }
        while n < count {
            let x = V(repeating: wp.pointee)
            a0 = fma(x, load(rp), a0)
            b0 = fma(x, load(rp + 8), b0)
            wp += ws; rp += ld; n += 1
        }
        let lo = (a0 + a1) + (a2 + a3), hi = (b0 + b1) + (b2 + b3)
        let av = V(repeating: alpha)
        if accumulate {
            store(load(out) + av * lo, out)
            store(load(out + 8) + av * hi, out + 8)
        } else {
            store(alpha == 1 ? lo : av * lo, out)
            store(alpha == 1 ? hi : av * hi, out + 8)
        }
    }
}

/// One head's keys (or values) transposed to `[d, ⌈T/8⌉·8]`, zero-padded, so a query row's dot
/// products with eight consecutive keys are `d` vector multiply-adds.
struct TransposedHead {
    let length, headDim, stride: Int
    let buffer: UnsafeMutablePointer<Float>

    init(length: Int, headDim: Int) {
        self.length = length
        self.headDim = headDim
        stride = (length + 7) / 8 * 8
        buffer = .allocate(capacity: max(headDim * stride, 1))
        buffer.initialize(repeating: 0, count: max(headDim * stride, 1))
    }

    func deallocate() { buffer.deallocate() }

    /// Copies rows `x[j * ld ..< j * ld + d]`, `j < length`, as columns.
    func pack(_ x: UnsafePointer<Float>, ld: Int) {
        for j in 0..<length {
            let row = x + j * ld
            for c in 0..<headDim { buffer[c * stride + j] = row[c] }
        }
    }

    /// `out[j] = scale * dot(row, column j)` for `j < count`; nothing past `count` is written.
    /// A multiply-add waits for the previous one on its accumulator, so each pass keeps eight
    /// chains in flight: 32 keys per pass with even and odd dimensions apart, and for the last
    /// keys, 8 per pass with the dimensions in four groups. (`headDim` is a multiple of 8.)
    @inline(__always)
    func dotRow(_ row: UnsafePointer<Float>, count: Int, scale: Float, out: UnsafeMutablePointer<Float>) {
        typealias V = VectorMath.V
        let sv = V(repeating: scale)
        var j = 0
        while j + 32 <= count {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            var b0 = V(), b1 = V(), b2 = V(), b3 = V()
            var col = buffer + j
            var c = 0
            while c < headDim {
                let x = V(repeating: row[c]), y = V(repeating: row[c + 1])
                let next = col + stride
                a0 = fma(x, load(col), a0)
                a1 = fma(x, load(col + 8), a1)
                a2 = fma(x, load(col + 16), a2)
                a3 = fma(x, load(col + 24), a3)
                b0 = fma(y, load(next), b0)
                b1 = fma(y, load(next + 8), b1)
                b2 = fma(y, load(next + 16), b2)
                b3 = fma(y, load(next + 24), b3)
                col += 2 * stride
                c += 2
            }
            store((a0 + b0) * sv, out + j)
            store((a1 + b1) * sv, out + j + 8)
            store((a2 + b2) * sv, out + j + 16)
            store((a3 + b3) * sv, out + j + 24)
            j += 32
        }
        while j < count {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            var col = buffer + j
            var c = 0
            while c < headDim {
                a0 = fma(V(repeating: row[c]), load(col), a0)
                a1 = fma(V(repeating: row[c + 1]), load(col + stride), a1)
                a2 = fma(V(repeating: row[c + 2]), load(col + 2 * stride), a2)
                a3 = fma(V(repeating: row[c + 3]), load(col + 3 * stride), a3)
                col += 4 * stride
                c += 4
            }
            let acc = ((a0 + a1) + (a2 + a3)) * sv
            if j + 8 <= count {
                store(acc, out + j)
            } else {
                for l in 0..<(count - j) { out[j + l] = acc[l] }
            }
            j += 8
        }
    }
}

// This file's vector primitives. They repeat VectorMath's so that they inline in debug builds
// too, which compile each file on its own: called across files, each one stayed a call per
// vector, and the model tests (every fixture model has heads of 16) ran 1.5x longer.
@inline(__always)
private func fma(_ a: VectorMath.V, _ b: VectorMath.V, _ c: VectorMath.V) -> VectorMath.V {
    #if DPOHOST_FMA
    return c.addingProduct(a, b)
    #else
    return c + a * b
    #endif
}

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> VectorMath.V {
    UnsafeRawPointer(p).loadUnaligned(as: VectorMath.V.self)
}

@inline(__always)
private func store(_ v: VectorMath.V, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: VectorMath.V.self)
}
