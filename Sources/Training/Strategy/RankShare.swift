import DataPipeline
import Foundation
import Model
import Parallel
import TensorCore

/// This process's part of the work: rank r of n ranks. Each rank iterates the same global batches
/// and takes its own contiguous slice (the reference's `slice_and_move_batch_for_device`); metrics
/// are gathered so the root logs the global batch's figures. Without a communicator it is the
/// whole work of one process (BasicTrainer).
///
/// Under tensor parallelism (`splitsBatch` false) every rank runs the whole batch through its
/// part of the model: nothing is sliced, and the metrics, identical on every rank, are not
/// gathered.
struct RankShare {
    let communicator: Communicator?
    var splitsBatch = true
    /// Split parameters gathered for checkpoints (tensor parallelism).
    var tensorParallel: TensorParallelGroup?

    /// Parameters are sharded across ranks (FSDP): every forward gathers them collectively.
    var parametersSharded = false

    /// Every rank must run each forward of the model (its parameters are split across ranks).
    var modelSpansRanks: Bool { (tensorParallel != nil || parametersSharded) && size > 1 }

    var rank: Int { communicator?.rank ?? 0 }
    var size: Int { communicator?.size ?? 1 }
    /// Only the root writes metrics, samples and checkpoints.
    var isRoot: Bool { rank == 0 }

    func slice(_ batch: Batch, padId: Int32) -> Batch {
        size == 1 || !splitsBatch ? batch : batch.slice(part: rank, of: size, padId: padId)
    }

    /// Per-example metric lists of every rank, concatenated in rank order.
    func gather(_ lists: [String: [Float]]) throws -> [String: [Float]] {
        guard let communicator, size > 1, splitsBatch else { return lists }
        // Every rank runs the same losses, so the same keys; sorted for the same call order.
        let keys = lists.keys.sorted()
        let signature = try communicator.broadcast(string: keys.joined(separator: "\n"))
        guard signature == keys.joined(separator: "\n") else {
            throw DistributedError.mismatch("metric names differ between rank 0 and rank \(rank)")
        }
        var out: [String: [Float]] = [:]
        for key in keys { out[key] = try communicator.allGatherConcatenated(lists[key]!) }
        return out
    }

    /// The model's full parameter values on the root (split or sharded ones gathered); nil
    /// elsewhere. Collective under tensor parallelism and FSDP.
    func fullState(of model: LanguageModel) throws -> [String: Tensor]? {
        if let sharded = model.fullySharded { return try sharded.fullState() }
        if let store = model.store { return isRoot ? try store.fullState() : nil }
        guard let shards = model.shards, let tensorParallel else { return isRoot ? model.state : nil }
        return try shards.gatherFull(model.state, group: tensorParallel)
    }

    /// Each rank's `values` (same count everywhere), as one list per rank, on every rank.
    func gatherPerRank(_ values: [Double]) throws -> [[Double]] {
        guard let communicator, size > 1 else { return [values] }
        var all = [Double](repeating: 0, count: values.count * size)
        for (i, v) in values.enumerated() { all[rank * values.count + i] = v }
        let summed = try communicator.allReduceSum(all)
        return (0..<size).map { Array(summed[($0 * values.count)..<(($0 + 1) * values.count)]) }
    }

    /// Root's tensors on every rank: names and shapes as JSON, then the data tensor by tensor.
    func broadcast(_ tensors: [String: Tensor]) throws -> [String: Tensor] {
        guard let communicator, size > 1 else { return tensors }
        let names = tensors.keys.sorted()
        let header = try JSONEncoder().encode(names.map { TensorHeader(name: $0, shape: tensors[$0]!.shape) })
        let received = try JSONDecoder().decode([TensorHeader].self,
                                                from: Data(communicator.broadcast(bytes: isRoot ? Array(header) : [])))
        var out: [String: Tensor] = [:]
        for h in received {
            let t = isRoot ? tensors[h.name]!.contiguous() : Tensor(zeros: h.shape)
            try communicator.broadcast(UnsafeMutableBufferPointer(start: t.pointer, count: t.count))
            out[h.name] = t
        }
        return out
    }

    /// Root's value of a Codable on every rank.
    func broadcast<T: Codable>(_ value: T?) throws -> T {
        guard let communicator, size > 1 else { return value! }
        let bytes = try communicator.broadcast(bytes: isRoot ? Array(JSONEncoder().encode(value!)) : [])
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    private struct TensorHeader: Codable { let name: String; let shape: [Int] }
}
