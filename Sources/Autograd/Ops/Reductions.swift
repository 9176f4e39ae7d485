import TensorCore

extension Tape {
    /// Sum over `axis` (or over everything when nil, giving shape `[]`, or `[1, ...]` with keepDims).
    public func sum(_ x: Variable, axis: Int? = nil, keepDims: Bool = false) throws -> Variable {
        try reduce(x, axis: axis, keepDims: keepDims, mean: false)
    }

    /// Mean over `axis` (or over everything when nil).
    public func mean(_ x: Variable, axis: Int? = nil, keepDims: Bool = false) throws -> Variable {
        try reduce(x, axis: axis, keepDims: keepDims, mean: true)
    }

    private func reduce(_ x: Variable, axis: Int?, keepDims: Bool, mean: Bool) throws -> Variable {
        let shape = x.shape
        let (outer, n, inner): (Int, Int, Int)
        var outShape: [Int]
        if let axis {
            let ax = axis < 0 ? axis + shape.count : axis
            guard ax >= 0, ax < shape.count else {
                throw TensorError.shapeMismatch(op: mean ? "mean" : "sum", detail: "axis \(axis) for shape \(shape)")
            }
            outer = shape[..<ax].reduce(1, *)
            n = shape[ax]
            inner = shape[(ax + 1)...].reduce(1, *)
            outShape = shape
            if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        } else {
            (outer, n, inner) = (1, x.value.count, 1)
            outShape = keepDims ? shape.map { _ in 1 } : []
        }
        let xv = x.value.contiguous()
        let out = Tensor(zeros: outShape)
        ReduceSum.forward(x: xv.pointer, y: out.pointer, outer: outer, n: n, inner: inner)
        let factor: Float = mean ? 1 / Float(max(n, 1)) : 1
        if mean { for i in 0..<out.count { out.pointer[i] *= factor } }
        return result(out, inputs: [x], op: mean ? "mean" : "sum") { dy in
            let dy = dy.contiguous()
            if factor == 1 {
                ReduceSum.backward(dy: dy.pointer, dx: x.gradBuffer().pointer, outer: outer, n: n, inner: inner)
            } else {
                let scaled = Tensor(zeros: dy.shape)
                for i in 0..<dy.count { scaled.pointer[i] = dy.pointer[i] * factor }
                ReduceSum.backward(dy: scaled.pointer, dx: x.gradBuffer().pointer, outer: outer, n: n, inner: inner)
            }
        }
    }
}
