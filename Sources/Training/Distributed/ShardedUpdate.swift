import Autograd
import Distributed
import Foundation
import TensorCore

/// FSDP's update across ranks. Backward fills full-size gradients on every rank (from its slice of
/// the batch); here they are reduce-scattered and averaged so each rank keeps only the gradient of
/// its shard of every unit (`ShardLayout`), clipped by the global norm (an all-reduce of the
/// shards' squared norms). The optimizer steps on the float32 master shard, so its state exists
/// only for that shard, and the updated shards are all-gathered back into the full parameters the
/// model plugin computes with.
final class ShardedUpdate: ParameterUpdate {
    let parameters: [NamedParameter]
    let layout: ShardLayout
    let communicator: Communicator
    let optimizer: Optimizer
    /// One variable per unit: this rank's slice of the flat unit, named after the unit, with the
    /// unit's reduced gradient slice as its gradient.
    let shards: [NamedParameter]

    init(parameters: [NamedParameter], blockName: String, communicator: Communicator, optimizer: Optimizer) {
        self.parameters = parameters
        self.communicator = communicator
        self.optimizer = optimizer
        let layout = ShardLayout(parameters: parameters.map { ($0.name, $0.variable.value.count) },
                                 blockName: blockName, worldSize: communicator.size)
        self.layout = layout
        shards = layout.units.map { unit in
            let v = Variable(Tensor(zeros: [unit.shardLength]), requiresGrad: true)
            v.setGrad(Tensor(zeros: [unit.shardLength]))
            return NamedParameter(name: unit.name, variable: v)
        }
        refreshShards()
    }

    /// Copies this rank's slices of the full parameters into the master shards (at start and
    /// after a checkpoint replaced the parameters).
    func refreshShards() {
        for (unit, shard) in zip(layout.units, shards) {
            let flat = Self.flatten(unit, worldSize: layout.worldSize) { parameters[$0].variable.value }
            let start = communicator.rank * unit.shardLength
            flat.withUnsafeBufferPointer {
                shard.variable.value.pointer.update(from: $0.baseAddress! + start, count: unit.shardLength)
            }
        }
    }

    var optimizerName: String { optimizer.name }
    var stepCount: Int { optimizer.stepCount }

    func synchronizeAndClip(maxNorm: Float) throws -> Float {
        let n = Float(communicator.size)
        var squares = 0.0
        for (unit, shard) in zip(layout.units, shards) {
            let send = Self.flatten(unit, worldSize: layout.worldSize) { parameters[$0].variable.grad }
            let grad = shard.variable.grad!
            let out = UnsafeMutableBufferPointer(start: grad.pointer, count: grad.count)
            try send.withUnsafeBufferPointer { try communicator.reduceScatterSum($0, into: out) }
            for i in 0..<out.count {
                out[i] /= n
                squares += Double(out[i]) * Double(out[i])
            }
            // Full-size gradients live only from backward to here.
            for m in unit.members { parameters[m.parameter].variable.setGrad(nil) }
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
        try optimizer.step(shards, lr: lr, pool: pool)
        try gatherParameters()
        for shard in shards { shard.variable.zeroGrad() }
    }

    /// Every rank's updated shard into the full parameters.
    func gatherParameters() throws {
        for (unit, shard) in zip(layout.units, shards) {
            var flat = [Float](repeating: 0, count: unit.shardLength * layout.worldSize)
            let mine = UnsafeBufferPointer(start: shard.variable.value.pointer, count: unit.shardLength)
            try flat.withUnsafeMutableBufferPointer { try communicator.allGather(mine, into: $0) }
            Self.unflatten(unit, flat) { parameters[$0].variable.value }
        }
    }

    func checkpointState() throws -> [String: Tensor] {
        let state = optimizer.stateTensors()
        let first = layout.units[0].name + "."
        let slots = state.keys.filter { $0.hasPrefix(first) }.map { String($0.dropFirst(first.count)) }.sorted()
        var out: [String: Tensor] = [:]
        for unit in layout.units {
            for slot in slots {
                guard let mine = state["\(unit.name).\(slot)"] else {
                    throw OptimizerError.stateMismatch("no '\(slot)' state for unit \(unit.name)")
                }
                let isRoot = communicator.isRoot
                var flat = [Float](repeating: 0, count: isRoot ? unit.shardLength * layout.worldSize : 0)
                let send = UnsafeBufferPointer(start: mine.pointer, count: unit.shardLength)
                try flat.withUnsafeMutableBufferPointer { recv in
                    try communicator.gather(send, into: isRoot ? recv : nil)
                }
                guard isRoot else { continue }
                for m in unit.members {
                    let p = parameters[m.parameter]
                    let t = Tensor(zeros: p.variable.shape)
                    flat.withUnsafeBufferPointer { t.pointer.update(from: $0.baseAddress! + m.offset, count: m.count) }
                    out["\(p.name).\(slot)"] = t
                }
            }
        }
        return out
    }

    func load(state: [String: Tensor], stepCount: Int) throws {
        refreshShards()
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
                let flat = Self.flatten(unit, worldSize: layout.worldSize) { tensors[$0] }
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
        return TrainingMemory(parameters: layout.totalElements * bytes, masterShard: layout.shardElements * bytes,
                              gradients: shards.reduce(0) { $0 + ($1.variable.grad?.count ?? 0) } * bytes,
                              optimizerState: optimizer.stateTensors().values.reduce(0) { $0 + $1.count } * bytes)
    }

    /// The unit's members concatenated and zero-padded to `shardLength * worldSize` (a missing
    /// tensor reads as zeros).
    static func flatten(_ unit: ShardLayout.Unit, worldSize: Int, _ tensor: (Int) -> Tensor?) -> [Float] {
        var flat = [Float](repeating: 0, count: unit.shardLength * worldSize)
        flat.withUnsafeMutableBufferPointer { dst in
            for m in unit.members {
                guard let t = tensor(m.parameter)?.contiguous() else { continue }
                (dst.baseAddress! + m.offset).update(from: t.pointer, count: m.count)
            }
        }
        return flat
    }

    /// Copies a flat unit back into its members' tensors.
    static func unflatten(_ unit: ShardLayout.Unit, _ flat: [Float], _ tensor: (Int) -> Tensor) {
        flat.withUnsafeBufferPointer { src in
            for m in unit.members { tensor(m.parameter).pointer.update(from: src.baseAddress! + m.offset, count: m.count) }
        }
    }
}
