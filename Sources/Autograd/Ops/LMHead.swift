import TensorCore

extension Tape {
    /// A language model's output projection: `linear(x, weight, bias, layout)` over `x [..., H]`,
    /// computed only on the rows of `rows` (rows of the leading axes flattened). Every other row of
    /// the output is 0 and passes no gradient back. nil, or a selection of every row: exactly
    /// `linear`. The selected rows of `x` are gathered into one dense block so the product runs
    /// once, writing straight into the output, which is then spread to the selected rows in place.
    /// A selection of no rows computes nothing: the output is a view of one zero (recorded, with
    /// no gradient to pass back, so a batch without a counted label still back-propagates).
    public func lmHead(_ x: Variable, weight: Variable, bias: Variable? = nil, layout: LinearLayout = .outIn,
                       rows: RowSelection?) throws -> Variable {
        guard let rows, !rows.isAll else { return try linear(x, weight: weight, bias: bias, layout: layout) }
        let f = try LinearFeatures(op: "lmHead", x: x, weight: weight, bias: bias, layout: layout)
        let total = x.value.count / max(f.inFeatures, 1)
        guard x.value.rank >= 2, rows.rows == total else {
            throw TensorError.shapeMismatch(op: "lmHead", detail: "input \(x.shape) has \(total) rows, the row selection \(rows.rows)")
        }
        let (k, inFeatures, wOut) = (rows.count, f.inFeatures, f.outFeatures)
        if k == 0 {
            let shape = Array(x.shape.dropLast()) + [wOut]
            let zero = Tensor(storage: TensorStorage(count: 1), shape: shape, strides: shape.map { _ in 0 })
            return result(zero, inputs: [x, weight] + (bias.map { [$0] } ?? [])) { _ in }
        }
        let wv = weight.value.contiguous()
        if k * 8 >= total * 7 { return try lmHeadNearlyAll(x, weightValue: wv, features: f, weight: weight, bias: bias, rows: rows) }
        let xk = Tensor(uninitialized: [k, inFeatures])
        rows.gather(x.value.contiguous().pointer, into: xk.pointer, width: inFeatures, pool: pool)
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [wOut])
        f.forward(x: xk.pointer, rows: k, weight: wv, bias: bias, out: out.pointer, pool: pool)
        rows.spreadInPlace(out.pointer, width: wOut)
        return result(out, inputs: [x, weight] + (bias.map { [$0] } ?? [])) { [pool] dy in
            // The selected rows of the output's gradient (the others do not depend on x or W),
            // packed into its first rows: `dy` is this output's own gradient buffer, dropped by
            // the tape right after this backward, so it serves as the dense block.
            let full = dy.contiguous()
            rows.compactInPlace(full.pointer, width: wOut)
            let dxk = x.requiresGrad ? Tensor(uninitialized: [k, inFeatures]) : nil
            f.backward(dy: full.pointer, rows: k, x: xk.pointer, weight: weight, weightValue: wv, bias: bias,
                       dx: dxk.map { ($0.pointer, 0) }, pool: pool)
            if let dxk { rows.scatterAdd(dxk.pointer, into: x.gradBuffer().pointer, width: inFeatures, pool: pool) }
        }
    }

    /// A selection of nearly every row (a shared prompt's rows: all but each row's last position):
    /// the product over every row, written straight into the output, is cheaper than gathering
    /// the rows and spreading them back. The unselected rows are then zeroed, and so is their
    /// gradient before the backward products, so values and gradients are those of the gathered path.
    private func lmHeadNearlyAll(_ x: Variable, weightValue wv: Tensor, features f: LinearFeatures, weight: Variable,
                                 bias: Variable?, rows: RowSelection) throws -> Variable {
        let xv = x.value.contiguous()
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [f.outFeatures])
        f.forward(x: xv.pointer, rows: rows.rows, weight: wv, bias: bias, out: out.pointer, pool: pool)
        rows.clearUnselected(out.pointer, width: f.outFeatures)
        return result(out, inputs: [x, weight] + (bias.map { [$0] } ?? []), op: "lmHead") { [pool] dy in
            let dy = dy.contiguous()
            rows.clearUnselected(dy.pointer, width: f.outFeatures)
            let dx = x.requiresGrad ? x.gradBufferForWriting() : nil
            f.backward(dy: dy.pointer, rows: rows.rows, x: xv.pointer, weight: weight, weightValue: wv, bias: bias,
                       dx: dx.map { ($0.buffer.pointer, $0.fresh ? 0 : 1) }, pool: pool)
        }
    }
}
