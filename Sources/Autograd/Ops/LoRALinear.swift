import TensorCore

extension Tape {
    /// A LoRA-adapted linear as one op: `y = x op(W) + bias + scale · ((x ∘ mask) Aᵀ) Bᵀ` with
    /// `A [r, in]`, `B [out, r]` and an optional dropout mask (already scaled by 1/(1-p)) on the
    /// adapter's input only. One output is kept for backward, not the three of the composed ops
    /// (the low-rank product, its scaled copy and the sum, each as large as the output); what
    /// backward keeps beyond the base linear is `x Aᵀ`, `r` columns per row.
    public func loraLinear(_ x: Variable, weight: Variable, bias: Variable? = nil, layout: LinearLayout = .outIn,
                           a: Variable, b: Variable, scale: Float, dropoutMask: Tensor? = nil) throws -> Variable {
        let f = try LinearFeatures(op: "lora linear", x: x, weight: weight, bias: bias, layout: layout)
        let rank = a.shape.first ?? 0
        guard a.shape == [rank, f.inFeatures], b.shape == [f.outFeatures, rank] else {
            throw TensorError.shapeMismatch(op: "lora linear", detail: "A \(a.shape) and B \(b.shape) for \(f.inFeatures) inputs and \(f.outFeatures) outputs: expected A [r, \(f.inFeatures)], B [\(f.outFeatures), r]")
        }
        if let dropoutMask, dropoutMask.shape != x.shape {
            throw TensorError.shapeMismatch(op: "lora linear", detail: "dropout mask \(dropoutMask.shape) for input \(x.shape)")
        }
        let xv = x.value.contiguous(), wv = weight.value.contiguous(), av = a.value.contiguous(), bv = b.value.contiguous()
        let rows = xv.count / max(f.inFeatures, 1), inputs = f.inFeatures, outputs = f.outFeatures
        let dropped: Tensor
        if let dropoutMask {
            let m = dropoutMask.contiguous()
            dropped = Tensor(uninitialized: xv.shape)
            for i in 0..<xv.count { dropped.pointer[i] = xv.pointer[i] * m.pointer[i] }
        } else {
            dropped = xv
        }
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outputs])
        f.forward(x: xv.pointer, rows: rows, weight: wv, bias: bias, out: out.pointer, pool: pool)
        // low [rows, r] = dropped Aᵀ; y += scale · low Bᵀ.
        let low = Tensor(uninitialized: [rows, rank])
        Gemm.sgemm(transA: false, transB: true, m: rows, n: rank, k: inputs, a: dropped.pointer, lda: inputs,
                   b: av.pointer, ldb: inputs, c: low.pointer, ldc: rank)
        Gemm.sgemm(transA: false, transB: true, m: rows, n: outputs, k: rank, alpha: scale, a: low.pointer, lda: rank,
                   b: bv.pointer, ldb: rank, beta: 1, c: out.pointer, ldc: outputs)
        return result(out, inputs: [x, weight, a, b] + (bias.map { [$0] } ?? [])) { [pool] dy in
            let dy = dy.contiguous()
            let dx = x.requiresGrad ? x.gradBufferForWriting() : nil
            f.backward(dy: dy.pointer, rows: rows, x: xv.pointer, weight: weight, weightValue: wv, bias: bias,
                       dx: dx.map { ($0.buffer.pointer, $0.fresh ? 0 : 1) }, pool: pool)
            guard a.requiresGrad || b.requiresGrad || x.requiresGrad else { return }
            // dLow [rows, r] = scale · dy B.
            let dLow = Tensor(uninitialized: [rows, rank])
            Gemm.sgemm(transA: false, transB: false, m: rows, n: rank, k: outputs, alpha: scale, a: dy.pointer, lda: outputs,
                       b: bv.pointer, ldb: rank, c: dLow.pointer, ldc: rank)
            if b.requiresGrad {   // dB[out, r] += scale · dyᵀ low
                let (db, fresh) = b.gradBufferForWriting()
                Gemm.sgemm(transA: true, transB: false, m: outputs, n: rank, k: rows, alpha: scale, a: dy.pointer, lda: outputs,
                           b: low.pointer, ldb: rank, beta: fresh ? 0 : 1, c: db.pointer, ldc: rank)
            }
            if a.requiresGrad {   // dA[r, in] += dLowᵀ dropped
                let (da, fresh) = a.gradBufferForWriting()
                Gemm.sgemm(transA: true, transB: false, m: rank, n: inputs, k: rows, a: dLow.pointer, lda: rank,
                           b: dropped.pointer, ldb: inputs, beta: fresh ? 0 : 1, c: da.pointer, ldc: inputs)
            }
            guard let dx else { return }
            // dx += (dLow A) ∘ mask: straight into dx without a mask, through a buffer with one.
            if let dropoutMask {
                let m = dropoutMask.contiguous()
                let through = Tensor(uninitialized: [rows, inputs])
                Gemm.sgemm(transA: false, transB: false, m: rows, n: inputs, k: rank, a: dLow.pointer, lda: rank,
                           b: av.pointer, ldb: inputs, c: through.pointer, ldc: inputs)
                let g = dx.buffer.pointer
                for i in 0..<through.count { g[i] += through.pointer[i] * m.pointer[i] }
            } else {
                Gemm.sgemm(transA: false, transB: false, m: rows, n: inputs, k: rank, a: dLow.pointer, lda: rank,
                           b: av.pointer, ldb: inputs, beta: 1, c: dx.buffer.pointer, ldc: inputs)
            }
        }
    }
}
