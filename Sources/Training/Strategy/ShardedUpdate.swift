import Autograd
import Foundation
import Model
import Parallel
import TensorCore

/// FSDP's update across ranks. During backward the hooks of `FullyShardedParameters` queue the
/// reduce-scatter of every unit's gradients; once they finished, each rank holds only the
/// averaged gradient of its slice of every unit. Here the slices are clipped by the global
/// norm (an all-reduce of their squared norms) and the optimizer steps on the float32 slices, so
/// its state exists only for them. The next forward gathers the updated slices.
final class ShardedUpdate: ParameterUpdate {
    let sharded: FullyShardedParameters
    let optimizer: Optimizer
    var layout: ShardLayout { sharded.layout }
    var communicator: Communicator { sharded.communicator }
    var parameters: [NamedParameter] { sharded.parameters }
    var shards: [NamedParameter] { sharded.shards }

    init(sharded: FullyShardedParameters, optimizer: Optimizer) {
        self.sharded = sharded
        self.optimizer = optimizer
    }

    var optimizerName: String { optimizer.name }
    var stepCount: Int { optimizer.stepCount }

    func synchronizeAndClip(maxNorm: Float) throws -> Float {
        try sharded.finishReductions()
        var squares = 0.0
        for shard in shards {
            let g = shard.variable.grad!
            for i in 0..<g.count { squares += Double(g.pointer[i]) * Double(g.pointer[i]) }
        }
        let norm = try communicator.allReduceSum([squares])[0].squareRoot()
        // torch.nn.utils.clip_grad_norm_'s coefficient, as GradientClipping.
        let coefficient = Float(min(1, Double(maxNorm) / (norm + 1e-6)))
        if coefficient < 1 {
            for shard in shards {
                let g = shard.variable.grad!
                for i in 0..<g.count { g.pointer[i] *= coefficient }
            }
        }
        return Float(norm)
    }

    func step(lr: Float, pool: WorkerPool) throws {
        try sharded.finishReductions()
        try optimizer.step(shards, lr: lr, pool: pool)
        for shard in shards { shard.variable.zeroGrad() }
        try sharded.releaseAll()
    }

    func checkpointState() throws -> [String: Tensor] {
        let state = optimizer.stateTensors()
        let first = layout.units[0].name + "."
        let slots = state.keys.filter { $0.hasPrefix(first) }.map { String($0.dropFirst(first.count)) }.sorted()
        var out: [String: Tensor] = [:]
        for (u, unit) in layout.units.enumerated() {
            for slot in slots {
                guard let mine = state["\(unit.name).\(slot)"] else {
                    throw OptimizerError.stateMismatch("no '\(slot)' state for unit \(unit.name)")
                }
                for (name, t) in try sharded.gatherToRoot(unit: u, slice: mine) ?? [:] { out["\(name).\(slot)"] = t }
            }
        }
        return out
    }

    func load(state: [String: Tensor], stepCount: Int) throws {
        let index = Dictionary(uniqueKeysWithValues: parameters.enumerated().map { ($1.name, $0) })
        var bySlot: [String: [Int: Tensor]] = [:]
        for (key, t) in state {
            // Slot names (square_avg, exp_avg, exp_avg_sq) hold no dot; parameter names do.
            guard let dot = key.lastIndex(of: "."), let i = index[String(key[..<dot])] else {
                throw OptimizerError.stateMismatch("state '\(key)' names no parameter of the model")
            }
            guard t.shape == parameters[i].variable.shape else {
                throw OptimizerError.stateMismatch("state '\(key)' has shape \(t.shape), parameter has \(parameters[i].variable.shape)")
            }
            bySlot[String(key[key.index(after: dot)...]), default: [:]][i] = t
        }
        var shardState: [String: Tensor] = [:]
        let start = communicator.rank
        for (slot, tensors) in bySlot {
            for unit in layout.units {
                let flat = unit.flatten(worldSize: layout.worldSize) { tensors[$0] }
                let mine = Tensor(zeros: [unit.shardLength])
                flat.withUnsafeBufferPointer {
                    mine.pointer.update(from: $0.baseAddress! + start * unit.shardLength, count: unit.shardLength)
                }
                shardState["\(unit.name).\(slot)"] = mine
            }
        }
        try optimizer.loadState(shardState, stepCount: stepCount, parameters: shards)
    }

    func memory() -> TrainingMemory {
        let bytes = MemoryLayout<Float>.size
        var m = TrainingMemory(parameters: sharded.peakGatheredElements * bytes, masterShard: layout.shardElements * bytes,
                               gradients: shards.reduce(0) { $0 + ($1.variable.grad?.count ?? 0) } * bytes,
                               optimizerState: optimizer.stateTensors().values.reduce(0) { $0 + $1.count } * bytes)
        m.parameterKind = "gathered one unit at a time during forward/backward, peak"
        return m
    }
}
