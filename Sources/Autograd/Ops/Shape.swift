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

    /// Row r of `x [N, T, ...]` after row `r % P` of `prefix [P, S, ...]` along axis 1, as
    /// `[N, S + T, ...]`: the keys of rows whose first S positions ran once for every N / P of them
    /// (a shared prompt). Backward: each prefix row sums the gradients of the rows that read it.
    public func prefixed(_ x: Variable, with prefix: Variable) throws -> Variable {
        let (xs, ps) = (x.shape, prefix.shape)
        guard xs.count >= 2, ps.count == xs.count, Array(ps.dropFirst(2)) == Array(xs.dropFirst(2)),
              ps[0] > 0, xs[0] % ps[0] == 0 else {
            throw TensorError.shapeMismatch(op: "prefixed", detail: "rows \(xs) cannot follow prefix rows \(ps)")
        }
        let (n, t, p, s) = (xs[0], xs[1], ps[0], ps[1])
        let inner = xs.dropFirst(2).reduce(1, *)
        let (xBlock, pBlock) = (t * inner, s * inner)
        let xv = x.value.contiguous(pool: pool), pv = prefix.value.contiguous(pool: pool)
        let out = Tensor(uninitialized: [n, s + t] + xs.dropFirst(2))
        let io = UnsafeSendable((xv.pointer, pv.pointer, out.pointer))
        pool.parallelFor(n, grain: 1) { rows in
            let (x, prefix, out) = io.value
            for r in rows {
                let row = out + r * (pBlock + xBlock)
                row.update(from: prefix + (r % p) * pBlock, count: pBlock)
                (row + pBlock).update(from: x + r * xBlock, count: xBlock)
            }
        }
        return result(out, inputs: [x, prefix]) { [pool] dy in
            let g = dy.contiguous(pool: pool)
            let dx = x.requiresGrad ? Tensor(uninitialized: xs) : nil
            let dp = prefix.requiresGrad ? Tensor(uninitialized: ps) : nil
            let io = UnsafeSendable((g.pointer, dx?.pointer, dp?.pointer))
            pool.parallelFor(max(n, p), grain: 1) { rows in
                let (g, dx, dp) = io.value
                for r in rows {
                    if let dx, r < n { (dx + r * xBlock).update(from: g + r * (pBlock + xBlock) + pBlock, count: xBlock) }
                    // Prefix row r: its readers r, r + P, ... summed in that order.
                    if let dp, r < p {
                        let d = dp + r * pBlock
                        d.update(from: g + r * (pBlock + xBlock), count: pBlock)
                        for reader in stride(from: r + p, to: n, by: p) {
                            let src = g + reader * (pBlock + xBlock)
                            for j in 0..<pBlock { d[j] += src[j] }
                        }
                    }
                }
            }
            if let dx { try x.accumulate(dx, pool: pool) }
            if let dp { try prefix.accumulate(dp, pool: pool) }
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
