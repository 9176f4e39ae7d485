import TensorCore

/// How a linear layer's weight is stored in a checkpoint.
public enum LinearLayout: Sendable {
    /// PyTorch `nn.Linear`: `weight[out, in]`, `y = x W^T + b`.
    case outIn
    /// GPT-2 `Conv1D`: `weight[in, out]`, `y = x W + b`.
    case inOut
}

extension Tape {
    /// `op(a) op(b)` where `op` optionally transposes the last two axes.
    /// Shapes: `a [..., M, K]` with `b [K, N]` (leading axes of `a` are folded into M), or batched
    /// `a [B, M, K]` with `b [B, K, N]`.
    public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) throws -> Variable {
        let av = a.value.contiguous(), bv = b.value.contiguous()
        let fail = TensorError.shapeMismatch(
            op: "matmul", detail: "\(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "") are incompatible")
        guard av.rank >= 2, bv.rank >= 2 else { throw fail }
        let batched = bv.rank == 3
        if batched { guard av.rank == 3, av.shape[0] == bv.shape[0] else { throw fail } }
        guard bv.rank <= 3 else { throw fail }
        if transposeA { guard av.rank == 2 || batched else { throw fail } }
        let batch = batched ? av.shape[0] : 1
        let aRows = batched ? av.shape[1] : av.count / av.shape[av.rank - 1]
        let aCols = av.shape[av.rank - 1]
        let (m, k) = transposeA ? (aCols, aRows) : (aRows, aCols)
        let bRows = bv.shape[bv.rank - 2], bCols = bv.shape[bv.rank - 1]
        let (kb, n) = transposeB ? (bCols, bRows) : (bRows, bCols)
        guard k == kb else { throw fail }

        var outShape: [Int]
        if batched { outShape = [batch, m, n] } else if transposeA { outShape = [m, n] } else {
            outShape = Array(av.shape.dropLast()) + [n]
        }
        let out = Tensor(uninitialized: outShape)   // beta 0: written in full
        let aStride = aRows * aCols, bStride = bRows * bCols, cStride = m * n
        for i in 0..<batch {
            Gemm.sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                       a: av.pointer + i * aStride, lda: aCols, b: bv.pointer + i * bStride, ldb: bCols,
                       c: out.pointer + i * cStride, ldc: n)
        }
        return result(out, inputs: [a, b]) { dy in
            let dy = dy.contiguous()
            // Each product writes its whole block of the gradient: beta 0 on a first gradient,
            // so it needs no zero-fill. Taken in this order, `a` and `b` being one variable
            // gives `b` the buffer `a` wrote (fresh false), to add into.
            let ga = a.requiresGrad ? a.gradBufferForWriting() : nil
            let gb = b.requiresGrad ? b.gradBufferForWriting() : nil
            for i in 0..<batch {
                let dc = dy.pointer + i * cStride
                if let ga {
                    let da = ga.buffer.pointer + i * aStride, beta: Float = ga.fresh ? 0 : 1
                    if transposeA {   // dA[K, M] += op(B) dC^T
                        Gemm.sgemm(transA: transposeB, transB: true, m: k, n: m, k: n,
                                   a: bv.pointer + i * bStride, lda: bCols, b: dc, ldb: n, beta: beta, c: da, ldc: aCols)
                    } else {          // dA[M, K] += dC op(B)^T
                        Gemm.sgemm(transA: false, transB: !transposeB, m: m, n: k, k: n,
                                   a: dc, lda: n, b: bv.pointer + i * bStride, ldb: bCols, beta: beta, c: da, ldc: aCols)
                    }
                }
                if let gb {
                    let db = gb.buffer.pointer + i * bStride, beta: Float = gb.fresh ? 0 : 1
                    if transposeB {   // dB[N, K] += dC^T op(A)
                        Gemm.sgemm(transA: true, transB: transposeA, m: n, n: k, k: m,
                                   a: dc, lda: n, b: av.pointer + i * aStride, ldb: aCols, beta: beta, c: db, ldc: bCols)
                    } else {          // dB[K, N] += op(A)^T dC
                        Gemm.sgemm(transA: !transposeA, transB: false, m: k, n: n, k: m,
                                   a: av.pointer + i * aStride, lda: aCols, b: dc, ldb: n, beta: beta, c: db, ldc: bCols)
                    }
                }
            }
        }
    }

    /// A linear layer over the last axis of `x [..., in]`, with the weight in `layout`.
    public func linear(_ x: Variable, weight: Variable, bias: Variable? = nil, layout: LinearLayout = .outIn) throws -> Variable {
        let f = try LinearFeatures(op: "linear", x: x, weight: weight, bias: bias, layout: layout)
        let xv = x.value.contiguous(), wv = weight.value.contiguous()
        let rows = xv.count / max(f.inFeatures, 1)
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [f.outFeatures])
        f.forward(x: xv.pointer, rows: rows, weight: wv, bias: bias, out: out.pointer, pool: pool)
        return result(out, inputs: [x, weight] + (bias.map { [$0] } ?? [])) { [pool] dy in
            let dy = dy.contiguous()
            // Beta 0 on a first gradient (see `gradBufferForWriting`): the product writes all of it.
            let dx = x.requiresGrad ? x.gradBufferForWriting() : nil
            f.backward(dy: dy.pointer, rows: rows, x: xv.pointer, weight: weight, weightValue: wv, bias: bias,
                       dx: dx.map { ($0.buffer.pointer, $0.fresh ? 0 : 1) }, pool: pool)
        }
    }
}

/// The feature counts of a linear layer, checked, and its products: shared by `linear` and the
/// language-model head (`lmHead`), which runs them on a gathered block of rows.
struct LinearFeatures {
    let inFeatures: Int, outFeatures: Int
    let layout: LinearLayout
    /// The weight's row length (its leading dimension).
    let weightColumns: Int

    init(op: String, x: Variable, weight: Variable, bias: Variable?, layout: LinearLayout) throws {
        let w = weight.shape
        let inFeatures = x.shape.last ?? 0
        guard w.count == 2, x.value.rank >= 1 else {
            throw TensorError.shapeMismatch(op: op, detail: "input \(x.shape), weight \(w): weight must be 2-D")
        }
        let (wIn, wOut) = layout == .outIn ? (w[1], w[0]) : (w[0], w[1])
        guard wIn == inFeatures else {
            throw TensorError.shapeMismatch(op: op, detail: "input \(x.shape) has \(inFeatures) features, weight \(w) (\(layout == .outIn ? "[out, in]" : "[in, out]")) expects \(wIn)")
        }
        if let bias, bias.shape != [wOut] {
            throw TensorError.shapeMismatch(op: op, detail: "bias \(bias.shape) for weight \(w), expected [\(wOut)]")
        }
        (self.inFeatures, self.outFeatures, self.layout, self.weightColumns) = (inFeatures, wOut, layout, w[1])
    }

    /// `out[rows, out] = x[rows, in] op(W) + bias`, written in full: rows of the bias then beta 1, or beta 0.
    func forward(x: UnsafePointer<Float>, rows: Int, weight wv: Tensor, bias: Variable?, out: UnsafeMutablePointer<Float>,
                 pool: WorkerPool) {
        let wOut = outFeatures
        if let bias {
            // Over the pool: the copy (and the first touch of a fresh output's pages) is a few
            // megabytes per layer that the main thread would otherwise write alone.
            let p = UnsafeSendable((bias.value.contiguous().pointer, out))
            pool.parallelFor(rows, grain: max(1, Tensor.parallelGrain / max(wOut, 1))) { r in
                let (b, o) = p.value
                for row in r { (o + row * wOut).update(from: b, count: wOut) }
            }
        }
        Gemm.sgemm(transA: false, transB: layout == .outIn, m: rows, n: wOut, k: inFeatures,
                   a: x, lda: inFeatures, b: wv.pointer, ldb: weightColumns, beta: bias == nil ? 0 : 1,
                   c: out, ldc: wOut)
    }

    /// From `dy [rows, out]`: `dx = beta dx + dy op(W)^T` when `dx` is given, and `dW += ...`,
    /// `db += column sums of dy` for the parameters that require a gradient.
    func backward(dy: UnsafePointer<Float>, rows: Int, x: UnsafePointer<Float>, weight: Variable, weightValue wv: Tensor,
                  bias: Variable?, dx: (pointer: UnsafeMutablePointer<Float>, beta: Float)?, pool: WorkerPool) {
        let wOut = outFeatures
        if let dx {   // dx = dy W  (or dy W^T for [in, out])
            Gemm.sgemm(transA: false, transB: layout == .inOut, m: rows, n: inFeatures, k: wOut,
                       a: dy, lda: wOut, b: wv.pointer, ldb: weightColumns, beta: dx.beta, c: dx.pointer, ldc: inFeatures)
        }
        if weight.requiresGrad {
            let (dw, fresh) = weight.gradBufferForWriting()
            if layout == .outIn {   // dW[out, in] += dy^T x
                Gemm.sgemm(transA: true, transB: false, m: wOut, n: inFeatures, k: rows,
                           a: dy, lda: wOut, b: x, ldb: inFeatures, beta: fresh ? 0 : 1, c: dw.pointer, ldc: inFeatures)
            } else {                // dW[in, out] += x^T dy
                Gemm.sgemm(transA: true, transB: false, m: inFeatures, n: wOut, k: rows,
                           a: x, lda: inFeatures, b: dy, ldb: wOut, beta: fresh ? 0 : 1, c: dw.pointer, ldc: wOut)
            }
        }
        if let bias, bias.requiresGrad {
            ReduceSum.backwardColumns(dy: dy, into: bias.gradBuffer().pointer, rows: rows, width: wOut, pool: pool)
        }
    }
}
