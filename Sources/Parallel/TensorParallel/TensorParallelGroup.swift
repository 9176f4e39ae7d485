import Foundation
import TensorCore

/// The collectives tensor parallelism needs, over the ranks of one communicator.
///
/// Sums are made from an all-gather added up in rank order rather than `MPI_Allreduce`: MPI does
/// not promise every rank the same bits from a reduction, and the replicated parameters (norms,
/// embeddings, the head) stay identical across ranks only if every rank computes exactly the
/// same activations from the summed ones.
public struct TensorParallelGroup {
    public let communicator: Communicator

    public init(communicator: Communicator) { self.communicator = communicator }

    public var rank: Int { communicator.rank }
    public var size: Int { communicator.size }

    /// Element-wise sum over ranks, the same bits on every rank.
    func sum(_ t: Tensor) throws -> Tensor {
        let x = t.contiguous()
        let all = try allGather(x)
        let out = Tensor(zeros: x.shape)
        let n = x.count
        all.withUnsafeBufferPointer { a in
            for r in 0..<size {
                let src = a.baseAddress! + r * n
                for i in 0..<n { out.pointer[i] += src[i] }
            }
        }
        return out
    }

    /// Every rank's `t [..., w]` joined into `[..., size * w]` in rank order.
    func gatherLastAxis(_ t: Tensor) throws -> Tensor {
        let x = t.contiguous()
        let w = x.shape.last ?? 1
        let rows = x.count / max(w, 1)
        let all = try allGather(x)
        let out = Tensor(zeros: Array(x.shape.dropLast()) + [w * size])
        all.withUnsafeBufferPointer { a in
            for r in 0..<size {
                for row in 0..<rows {
                    (out.pointer + row * w * size + r * w).update(from: a.baseAddress! + r * x.count + row * w, count: w)
                }
            }
        }
        return out
    }

    /// The full tensor of `fullShape` on the root from every rank's block along `axis`; nil on
    /// the other ranks.
    public func gatherToRoot(_ shard: Tensor, axis: Int, fullShape: [Int]) throws -> Tensor? {
        let x = shard.contiguous()
        let isRoot = communicator.isRoot
        var all = [Float](repeating: 0, count: isRoot ? x.count * size : 0)
        try all.withUnsafeMutableBufferPointer { recv in
            try communicator.gather(UnsafeBufferPointer(start: x.pointer, count: x.count), into: isRoot ? recv : nil)
        }
        guard isRoot else { return nil }
        let full = Tensor(zeros: fullShape)
        let w = x.shape[axis]
        for r in 0..<size {
            let part = Tensor(zeros: x.shape)
            all.withUnsafeBufferPointer { part.pointer.update(from: $0.baseAddress! + r * x.count, count: x.count) }
            try full.slice(axis: axis, (r * w)..<((r + 1) * w)).assign(part)
        }
        return full
    }

    private func allGather(_ x: Tensor) throws -> [Float] {
        var all = [Float](repeating: 0, count: x.count * size)
        try all.withUnsafeMutableBufferPointer { recv in
            try communicator.allGather(UnsafeBufferPointer(start: x.pointer, count: x.count), into: recv)
        }
        return all
    }
}
