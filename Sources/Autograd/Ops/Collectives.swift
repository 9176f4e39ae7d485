import TensorCore

/// A collective over the ranks of a tensor-parallel group, injected by the caller so that
/// autograd stays free of any transport (MPI lives in the Parallel module).
public typealias TensorCollective = (Tensor) throws -> Tensor

extension Tape {
    /// Megatron's `f` after a row-parallel linear: forward `sum(x)`, the sum over ranks of each
    /// rank's partial product. Backward passes `dy` through: the sum is replicated, so every rank
    /// already holds the whole gradient of it.
    public func allReduceForward(_ x: Variable, sum: TensorCollective) throws -> Variable {
        let out = try sum(x.value.contiguous())
        guard out.shape == x.shape else {
            throw TensorError.shapeMismatch(op: "allReduceForward", detail: "sum of \(x.shape) returned \(out.shape)")
        }
        return result(out, inputs: [x]) { [pool] dy in try x.accumulate(dy, pool: pool) }
    }

    /// Megatron's `g` on the replicated input of a sharded linear: forward is the identity;
    /// backward sums `dy` over ranks, because each rank's linear only produced the part of the
    /// input's gradient that flows through its own shard.
    public func allReduceBackward(_ x: Variable, sum: @escaping TensorCollective) -> Variable {
        result(x.value, inputs: [x]) { [pool] dy in
            let total = try sum(dy.contiguous())
            guard total.shape == x.shape else {
                throw TensorError.shapeMismatch(op: "allReduceBackward", detail: "sum of \(x.shape) returned \(total.shape)")
            }
            try x.accumulate(total, pool: pool)
        }
    }

    /// Joins each rank's `x [..., w]` into `[..., parts * w]` in rank order (the output of a
    /// column-parallel linear made whole for the replicated ops after it). Backward keeps this
    /// rank's columns `part*w ..< (part+1)*w` of `dy`, which is the same on every rank.
    public func allGatherLastAxis(_ x: Variable, part: Int, parts: Int, gather: TensorCollective) throws -> Variable {
        guard let w = x.shape.last, parts > 0, part >= 0, part < parts else {
            throw TensorError.invalidArgument(op: "allGatherLastAxis", detail: "part \(part) of \(parts) for shape \(x.shape)")
        }
        let out = try gather(x.value.contiguous())
        guard out.shape == Array(x.shape.dropLast()) + [w * parts] else {
            throw TensorError.shapeMismatch(op: "allGatherLastAxis", detail: "gather of \(x.shape) over \(parts) returned \(out.shape)")
        }
        let axis = x.shape.count - 1
        return result(out, inputs: [x]) { [pool] dy in
            try x.accumulate(dy.slice(axis: axis, (part * w)..<((part + 1) * w)), pool: pool)
        }
    }
}
