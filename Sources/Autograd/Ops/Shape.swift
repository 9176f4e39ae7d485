import TensorCore

extension Tape {
    /// Same elements, new shape (one axis may be -1).
    public func reshape(_ x: Variable, _ shape: [Int]) throws -> Variable {
        let out = try x.value.reshaped(shape)
        return result(out, inputs: [x]) { [pool] dy in try x.accumulate(dy.reshaped(x.shape), pool: pool) }
    }

    /// Swaps axes `a` and `b` (a strided view; later ops copy when they need dense data).
    public func transpose(_ x: Variable, _ a: Int, _ b: Int) throws -> Variable {
        let out = try x.value.transposed(a, b)
        return result(out, inputs: [x]) { [pool] dy in try x.accumulate(dy.transposed(a, b), pool: pool) }
    }

    /// Elements `range` along `axis`.
    public func slice(_ x: Variable, axis: Int, range: Range<Int>) throws -> Variable {
        let out = try x.value.slice(axis: axis, range).contiguous(pool: pool)
        return result(out, inputs: [x]) { [pool] dy in
            try x.gradBuffer().slice(axis: axis, range).accumulate(dy, pool: pool)
        }
    }

    /// Joins `xs` along `axis`; all other axes must agree.
    public func concat(_ xs: [Variable], axis: Int) throws -> Variable {
        guard let first = xs.first else {
            throw TensorError.invalidArgument(op: "concat", detail: "no inputs")
        }
        let rank = first.shape.count
        guard axis >= 0, axis < rank, xs.allSatisfy({ v in
            v.shape.count == rank && (0..<rank).allSatisfy { $0 == axis || v.shape[$0] == first.shape[$0] }
        }) else {
            throw TensorError.shapeMismatch(op: "concat", detail: "shapes \(xs.map(\.shape)) along axis \(axis)")
        }
        var outShape = first.shape
        outShape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        let out = Tensor(zeros: outShape)
        var ranges: [Range<Int>] = []
        var at = 0
        for x in xs {
            let r = at..<(at + x.shape[axis])
            try out.slice(axis: axis, r).assign(x.value)
            ranges.append(r)
            at = r.upperBound
        }
        return result(out, inputs: xs) { [pool] dy in
            for (x, r) in zip(xs, ranges) where x.requiresGrad {
                try x.accumulate(dy.slice(axis: axis, r), pool: pool)
            }
        }
    }

    /// Cuts `x` along `axis` into pieces of `sizes` (which must add up to that axis).
    public func split(_ x: Variable, sizes: [Int], axis: Int) throws -> [Variable] {
        guard axis >= 0, axis < x.shape.count, sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == x.shape[axis] else {
            throw TensorError.shapeMismatch(op: "split", detail: "sizes \(sizes) along axis \(axis) of \(x.shape)")
        }
        var at = 0
        return try sizes.map { n in
            defer { at += n }
            return try slice(x, axis: axis, range: at..<(at + n))
        }
    }

    /// The same value, cut off from the graph (no gradient flows back through it).
    public func detach(_ x: Variable) -> Variable {
        Variable(x.value, requiresGrad: false)
    }
}
