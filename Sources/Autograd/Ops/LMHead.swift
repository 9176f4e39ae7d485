import TensorCore

extension Tape {
    /// A language model's output projection: `linear(x, weight, bias, layout)` over `x [..., H]`,
    /// computed only on the rows of `rows` (rows of the leading axes flattened). Every other row of
    /// the output is 0 and passes no gradient back. nil, or a selection of every row: exactly
    /// `linear`. The selected rows of `x` are gathered into one dense block so the product runs
    /// once, writing straight into the output, which is then spread to the selected rows in place.
    public func lmHead(_ x: Variable, weight: Variable, bias: Variable? = nil, layout: LinearLayout = .outIn,
                       rows: RowSelection?) throws -> Variable {
        guard let rows, !rows.isAll else { return try linear(x, weight: weight, bias: bias, layout: layout) }
        let w = weight.shape
        let inFeatures = x.shape.last ?? 0
        guard w.count == 2, x.value.rank >= 2 else {
            throw TensorError.shapeMismatch(op: "lmHead", detail: "input \(x.shape), weight \(w): weight must be 2-D, input at least 2-D")
        }
        let (wIn, wOut) = layout == .outIn ? (w[1], w[0]) : (w[0], w[1])
        let total = x.value.count / max(inFeatures, 1)
        guard wIn == inFeatures, rows.rows == total else {
            throw TensorError.shapeMismatch(op: "lmHead", detail: "input \(x.shape) (\(total) rows of \(inFeatures)), weight \(w), a selection of \(rows.rows) rows")
        }
        if let bias, bias.shape != [wOut] {
            throw TensorError.shapeMismatch(op: "lmHead", detail: "bias \(bias.shape) for weight \(w), expected [\(wOut)]")
        }
        let k = rows.count
        let wv = weight.value.contiguous()
        let xk = Tensor(uninitialized: [k, inFeatures])
        rows.gather(x.value.contiguous().pointer, into: xk.pointer, width: inFeatures, pool: pool)
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [wOut])
        if let bias {
            let b = bias.value.contiguous().pointer
            for r in 0..<k { (out.pointer + r * wOut).update(from: b, count: wOut) }
        }
        Gemm.sgemm(transA: false, transB: layout == .outIn, m: k, n: wOut, k: inFeatures,
                   a: xk.pointer, lda: inFeatures, b: wv.pointer, ldb: w[1], beta: bias == nil ? 0 : 1,
                   c: out.pointer, ldc: wOut)
        rows.spreadInPlace(out.pointer, width: wOut)
        return result(out, inputs: [x, weight] + (bias.map { [$0] } ?? [])) { [pool] dy in
            // The selected rows of the output's gradient (the others do not depend on x or W),
            // packed into its first rows: `dy` is this output's own gradient buffer, dropped by
            // the tape right after this backward, so it serves as the dense block.
            let full = dy.contiguous()
            rows.compactInPlace(full.pointer, width: wOut)
            let dyk = Tensor(storage: full.storage, offset: full.offset, shape: [k, wOut])
            if x.requiresGrad {   // dx[selected] += dy W  (or dy W^T for [in, out])
                let dxk = Tensor(uninitialized: [k, inFeatures])
                Gemm.sgemm(transA: false, transB: layout == .inOut, m: k, n: inFeatures, k: wOut,
                           a: dyk.pointer, lda: wOut, b: wv.pointer, ldb: w[1], beta: 0, c: dxk.pointer, ldc: inFeatures)
                rows.scatterAdd(dxk.pointer, into: x.gradBuffer().pointer, width: inFeatures, pool: pool)
            }
            if weight.requiresGrad {
                if layout == .outIn {   // dW[out, in] += dy^T x
                    Gemm.sgemm(transA: true, transB: false, m: wOut, n: inFeatures, k: k,
                               a: dyk.pointer, lda: wOut, b: xk.pointer, ldb: inFeatures, beta: 1,
                               c: weight.gradBuffer().pointer, ldc: inFeatures)
                } else {                // dW[in, out] += x^T dy
                    Gemm.sgemm(transA: true, transB: false, m: inFeatures, n: wOut, k: k,
                               a: xk.pointer, lda: inFeatures, b: dyk.pointer, ldb: wOut, beta: 1,
                               c: weight.gradBuffer().pointer, ldc: wOut)
                }
            }
            if let bias, bias.requiresGrad {
                ReduceSum.backwardColumns(dy: dyk.pointer, into: bias.gradBuffer().pointer, rows: k, width: wOut, pool: pool)
            }
        }
    }
}
