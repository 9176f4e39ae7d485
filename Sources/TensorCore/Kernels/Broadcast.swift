/// Binary elementwise ops with numpy broadcasting, and the reduction of a gradient back to an
/// operand's shape (summing over the broadcast axes).
public enum Broadcast {
    public enum Operation: Sendable { case add, sub, mul, div }

    /// The broadcast result shape, or nil when the shapes are incompatible.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides of `t` as seen from `outShape`: 0 on broadcast axes.
    public static func strides(of t: Tensor, in outShape: [Int]) -> [Int] {
        let pad = outShape.count - t.rank
        return (0..<outShape.count).map { i in
            i < pad || t.shape[i - pad] == 1 ? 0 : t.strides[i - pad]
        }
    }

    /// Walks `shape` in row-major order with two strided cursors.
    static func forEach2(_ shape: [Int], _ sa: [Int], _ oa: Int, _ sb: [Int], _ ob: Int,
                         _ body: (Int, Int, Int) -> Void) {
        let n = Tensor.elementCount(shape)
        if n == 0 { return }
        if shape.isEmpty { body(0, oa, ob); return }
        var idx = [Int](repeating: 0, count: shape.count)
        var pa = oa, pb = ob, lin = 0
        let last = shape.count - 1
        while true {
            let len = shape[last], stA = sa[last], stB = sb[last]
            for j in 0..<len { body(lin + j, pa + j * stA, pb + j * stB) }
            lin += len
            var d = last - 1
            while d >= 0 {
                idx[d] += 1; pa += sa[d]; pb += sb[d]
                if idx[d] < shape[d] { break }
                pa -= sa[d] * shape[d]; pb -= sb[d] * shape[d]; idx[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    /// `out = a (op) b` into a new dense tensor of the broadcast shape. Operands of the same
    /// dense shape (residual adds, gradients times activations) are spread over `pool`.
    public static func forward(_ op: Operation, _ a: Tensor, _ b: Tensor, outShape: [Int], pool: WorkerPool) -> Tensor {
        let out = Tensor(uninitialized: outShape)
        let y = out.pointer
        if a.shape == b.shape && a.isContiguous && b.isContiguous {
            let p = UnsafeSendable((a.pointer, b.pointer, y))
            pool.parallelFor(out.count, grain: Tensor.parallelGrain) { r in
                let (pa, pb, y) = p.value
                switch op {
                case .add: for i in r { y[i] = pa[i] + pb[i] }
                case .sub: for i in r { y[i] = pa[i] - pb[i] }
                case .mul: for i in r { y[i] = pa[i] * pb[i] }
                case .div: for i in r { y[i] = pa[i] / pb[i] }
                }
            }
            return out
        }
        let ba = a.storage.pointer, bb = b.storage.pointer
        forEach2(outShape, strides(of: a, in: outShape), a.offset, strides(of: b, in: outShape), b.offset) { i, ia, ib in
            switch op {
            case .add: y[i] = ba[ia] + bb[ib]
            case .sub: y[i] = ba[ia] - bb[ib]
            case .mul: y[i] = ba[ia] * bb[ib]
            case .div: y[i] = ba[ia] / bb[ib]
            }
        }
        return out
    }

    /// `grad += sign * reduce(dy)` where `grad` has the operand's (smaller) shape: sums over the
    /// broadcast axes. Without any (same dense shapes) it is elementwise, spread over `pool`.
    public static func accumulateReduced(_ dy: Tensor, into grad: Tensor, sign: Float = 1, pool: WorkerPool) {
        let d = dy.contiguous(pool: pool)
        if grad.shape == dy.shape && grad.isContiguous {
            let p = UnsafeSendable((grad.pointer, d.pointer))
            pool.parallelFor(d.count, grain: Tensor.parallelGrain) { r in
                let (g, dp) = p.value
                for i in r { g[i] += sign * dp[i] }
            }
            return
        }
        let g = grad.storage.pointer
        let dp = d.pointer
        let zeros = [Int](repeating: 0, count: dy.rank)
        forEach2(dy.shape, strides(of: grad, in: dy.shape), grad.offset, zeros, 0) { i, ig, _ in
            g[ig] += sign * dp[i]
        }
    }
}
