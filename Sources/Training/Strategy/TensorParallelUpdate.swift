import Autograd
import Foundation
import Model
import Parallel
import TensorCore

/// Tensor parallelism's update. Every rank ran the same whole batch, so the gradients are
/// already final: a split parameter's block gradient is complete on its rank, and a replicated
/// parameter's gradient is the same on every rank. The optimizer steps on this rank's
/// parameters only, so its state exists for its blocks and, replicated, for the rest.
final class TensorParallelUpdate: ParameterUpdate {
    let parameters: [NamedParameter]
    let shards: ModelShards
    let group: TensorParallelGroup
    let optimizer: Optimizer

    init(parameters: [NamedParameter], shards: ModelShards, group: TensorParallelGroup, optimizer: Optimizer) {
        self.parameters = parameters
        self.shards = shards
        self.group = group
        self.optimizer = optimizer
    }

    var optimizerName: String { optimizer.name }
    var stepCount: Int { optimizer.stepCount }

    /// The global norm: the squares of the split blocks summed over ranks, plus those of the
    /// replicated parameters counted once.
    func synchronizeAndClip(maxNorm: Float) throws -> Float {
        var split = 0.0, replicated = 0.0
        for p in parameters {
            guard let g = p.variable.grad else { continue }
            var s = 0.0
            for i in 0..<g.count { s += Double(g.pointer[i]) * Double(g.pointer[i]) }
            if shards.axes[p.name] != nil { split += s } else { replicated += s }
        }
        let norm = (try group.communicator.allReduceSum([split])[0] + replicated).squareRoot()
        // torch.nn.utils.clip_grad_norm_'s coefficient, as GradientClipping.
        let coefficient = Float(min(1, Double(maxNorm) / (norm + 1e-6)))
        if coefficient < 1 {
            for p in parameters {
                guard let g = p.variable.grad else { continue }
                for i in 0..<g.count { g.pointer[i] *= coefficient }
            }
        }
        return Float(norm)
    }

    func step(lr: Float, pool: WorkerPool) throws {
        try optimizer.step(parameters, lr: lr, pool: pool)
        for p in parameters { p.variable.zeroGrad() }
    }

    /// Slots of split parameters gathered to the root along their parameter's axis, so the
    /// checkpoint holds BasicTrainer's full state.
    func checkpointState() throws -> [String: Tensor] {
        try checkReplicasAgree()
        let state = optimizer.stateTensors()
        var out: [String: Tensor] = [:]
        for key in state.keys.sorted() {
            let t = state[key]!
            guard let name = parameterName(of: key), let axis = shards.axes[name] else { out[key] = t; continue }
            if let full = try group.gatherToRoot(t, axis: axis, fullShape: shards.fullShapes[name]!) { out[key] = full }
        }
        return out
    }

    func load(state: [String: Tensor], stepCount: Int) throws {
        var local: [String: Tensor] = [:]
        for (key, t) in state {
            guard let name = parameterName(of: key), shards.axes[name] != nil else { local[key] = t; continue }
            guard t.shape == shards.fullShapes[name] else {
                throw OptimizerError.stateMismatch("state '\(key)' has shape \(t.shape), parameter has \(shards.fullShapes[name]!)")
            }
            local[key] = try shards.local(name, of: t)
        }
        try optimizer.loadState(local, stepCount: stepCount, parameters: parameters)
    }

    func memory() -> TrainingMemory {
        let bytes = MemoryLayout<Float>.size
        var m = TrainingMemory(parameters: parameters.reduce(0) { $0 + $1.variable.value.count } * bytes, masterShard: 0,
                               gradients: parameters.reduce(0) { $0 + ($1.variable.grad?.count ?? 0) } * bytes,
                               optimizerState: optimizer.stateTensors().values.reduce(0) { $0 + $1.count } * bytes)
        m.parameterKind = "this rank's blocks of split linears + replicated rest"
        return m
    }

    /// The root saves its own copy of the replicated parameters, so they must be the same bits
    /// on every rank (`TensorParallelGroup` sums in rank order for that); a divergence is an
    /// error rather than a silently inconsistent checkpoint.
    func checkReplicasAgree() throws {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325   // FNV-1a over the values' bits
        for p in parameters where shards.axes[p.name] == nil {
            let t = p.variable.value.contiguous()
            for i in 0..<t.count { hash = (hash ^ UInt64(t.pointer[i].bitPattern)) &* 0x100_0000_01b3 }
        }
        // Two 32-bit halves: exact in the doubles the collective carries.
        let mine = [Double(hash >> 32), Double(hash & 0xffff_ffff)]
        let all = try RankShare(communicator: group.communicator).gatherPerRank(mine)
        if let rank = all.firstIndex(where: { $0 != mine }) {
            throw DistributedError.mismatch("the replicated parameters of rank \(group.rank) and rank \(rank) differ")
        }
    }

    /// `<parameter>` of a state key `<parameter>.<slot>` (slot names hold no dot).
    private func parameterName(of key: String) -> String? {
        key.lastIndex(of: ".").map { String(key[..<$0]) }
    }
}
