import Autograd
import Distributed
import Foundation
import PluginHost
import TensorCore

/// A model's parameters as FSDP holds them: between uses each rank keeps only its slice of every
/// unit (`ShardLayout`: each repeated block, plus one unit for the rest). A unit is all-gathered
/// when the model plugin first fetches one of its parameters and freed when the forward moves on
/// to another unit, so at most one unit is whole at a time.
///
/// On a recording tape each use of a unit (a "visit": a run of fetches of the same unit) leaves two
/// hooks around the unit's ops. Backward runs them in reverse: the one recorded at the visit's end
/// gathers the unit again before the unit's backward; the one recorded at its start then
/// reduce-scatters the unit's gradients into this rank's shard gradient (averaged over ranks) and
/// frees the whole unit and its full-size gradients. Every rank runs the same forward, so every
/// rank meets the same collectives in the same order.
final class FullyShardedParameters: ParameterAccess, ParameterStore {
    /// What travels between ranks: float32, or bfloat16 for the parameters all-gathered for
    /// compute and the gradients reduce-scattered (`model.fsdp_policy_mp=bfloat16`, as the
    /// reference's MixedPrecision for the policy). The slices and the optimizer stay float32;
    /// the kernels compute in float32 on the bf16-rounded parameters (this CPU has no bf16
    /// arithmetic), so what bf16 saves here is half the bytes on the wire.
    enum Precision: String { case float32, bfloat16 }

    let layout: ShardLayout
    let communicator: Communicator
    let parameters: [NamedParameter]
    /// Per unit: this rank's slice (float32 master), as a variable whose gradient is the reduced
    /// gradient of the slice when the model is trained.
    let shards: [NamedParameter]
    /// Per unit: one buffer of `shardLength * worldSize` floats that the unit's parameters view.
    private let storages: [TensorStorage]
    private let unitOfParameter: [String: Int]
    private let trainable: Bool
    let precision: Precision
    /// The model's `valuePrecision`: loaded and mixed values are rounded to it.
    private let valuePrecision: WeightPrecision
    /// The unit of the visit in progress during a forward.
    private var visiting: Int?
    /// Most floats whole at once (all units' gathered buffers), for the memory report.
    private(set) var peakGatheredElements = 0

    /// Takes over `model`'s parameters: each rank keeps its slice of their current values, and
    /// the full values are freed until a forward uses them.
    init(model: LanguageModel, communicator: Communicator, precision: Precision = .float32) throws {
        let trainable = model.parameters.first?.variable.requiresGrad ?? false
        let units = try UnitStorages(model: model, worldSize: communicator.size, requiresGrad: trainable)
        let shards = zip(units.layout.units, units.storages).map { unit, storage -> NamedParameter in
            let shard = Variable(Tensor(zeros: [unit.shardLength]), requiresGrad: trainable)
            if trainable { shard.setGrad(Tensor(zeros: [unit.shardLength])) }
            shard.value.pointer.update(from: storage.pointer + communicator.rank * unit.shardLength, count: unit.shardLength)
            storage.releaseMemory()
            return NamedParameter(name: unit.name, variable: shard)
        }
        self.layout = units.layout
        self.communicator = communicator
        self.parameters = units.parameters
        self.shards = shards
        self.storages = units.storages
        self.unitOfParameter = units.unitOfParameter
        self.trainable = trainable
        self.precision = precision
        self.valuePrecision = model.valuePrecision
        try model.adopt(store: self, parameters: parameters, access: self)
    }

    // MARK: - ParameterAccess

    func willUse(_ name: String, tape: Tape) throws {
        guard let u = unitOfParameter[name], u != visiting else { return }
        if let previous = visiting { endVisit(of: previous, tape: tape) }
        try gather(u)
        visiting = u
        // A frozen model on a recording tape (LoRA's base) still needs its weights in backward
        // for the input gradients: gathered again there and freed after, with nothing to reduce.
        tape.recordHook { [unowned self] in
            if self.trainable { try self.reduceGradients(of: u) } else { self.storages[u].releaseMemory() }
        }
    }

    func forwardEnded(tape: Tape) throws {
        if let u = visiting { endVisit(of: u, tape: tape) }
        visiting = nil
    }

    private func endVisit(of u: Int, tape: Tape) {
        tape.recordHook { [unowned self] in try self.gather(u) }
        storages[u].releaseMemory()
    }

    // MARK: - Collectives

    /// Makes unit `u` whole from every rank's slice.
    func gather(_ u: Int) throws {
        let storage = storages[u]
        guard !storage.isResident else { return }
        storage.acquireMemory()
        let unit = layout.units[u]
        let mine = UnsafeBufferPointer(start: shards[u].variable.value.pointer, count: unit.shardLength)
        switch precision {
        case .float32:
            try communicator.allGather(mine, into: UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
        case .bfloat16:
            let send = mine.map(BFloat16.bits)
            var all = [UInt16](repeating: 0, count: storage.count)
            try send.withUnsafeBufferPointer { s in try all.withUnsafeMutableBufferPointer { try communicator.allGather(bfloat16: s, into: $0) } }
            for i in 0..<all.count { storage.pointer[i] = BFloat16.value(all[i]) }
        }
        peakGatheredElements = max(peakGatheredElements, storages.reduce(0) { $0 + ($1.isResident ? $1.count : 0) })
    }

    /// Adds the rank-average of unit `u`'s full gradients to this rank's shard gradient, then
    /// frees them and the whole unit.
    func reduceGradients(of u: Int) throws {
        let unit = layout.units[u]
        let send = ShardedUpdate.flatten(unit, worldSize: layout.worldSize) { parameters[$0].variable.grad }
        let grad = shards[u].variable.grad!.pointer
        let scale = 1 / Float(communicator.size)
        switch precision {
        case .float32:
            var reduced = [Float](repeating: 0, count: unit.shardLength)
            try send.withUnsafeBufferPointer { s in
                try reduced.withUnsafeMutableBufferPointer { try communicator.reduceScatterSum(s, into: $0) }
            }
            for i in 0..<unit.shardLength { grad[i] += reduced[i] * scale }
        case .bfloat16:
            // Divided by the world size before the bf16 sum, which keeps partial sums in range.
            let bits = send.map { BFloat16.bits($0 * scale) }
            var reduced = [UInt16](repeating: 0, count: unit.shardLength)
            try bits.withUnsafeBufferPointer { s in
                try reduced.withUnsafeMutableBufferPointer { try communicator.reduceScatterSum(bfloat16: s, into: $0) }
            }
            for i in 0..<unit.shardLength { grad[i] += BFloat16.value(reduced[i]) }
        }
        for m in unit.members { parameters[m.parameter].variable.setGrad(nil) }
        storages[u].releaseMemory()
    }

    /// Frees every gathered unit (after the optimizer changed the shards, any whole copy is stale).
    func releaseAll() {
        visiting = nil
        for s in storages { s.releaseMemory() }
    }

    // MARK: - Whole values

    /// The full parameters on the root (gathered unit by unit); nil on the other ranks. Collective.
    func fullState() throws -> [String: Tensor]? {
        var out: [String: Tensor] = [:]
        for (u, shard) in shards.enumerated() {
            for (name, t) in try gatherToRoot(unit: u, slice: shard.variable.value) ?? [:] { out[name] = t }
        }
        return communicator.isRoot ? out : nil
    }

    /// Every rank's `slice` of unit `u` (a parameter slice or an optimizer-state slice) as full
    /// tensors named after the unit's parameters, on the root; nil elsewhere. Collective.
    func gatherToRoot(unit u: Int, slice: Tensor) throws -> [String: Tensor]? {
        let unit = layout.units[u], isRoot = communicator.isRoot
        var flat = [Float](repeating: 0, count: isRoot ? unit.shardLength * layout.worldSize : 0)
        let mine = UnsafeBufferPointer(start: slice.pointer, count: unit.shardLength)
        try flat.withUnsafeMutableBufferPointer { try communicator.gather(mine, into: isRoot ? $0 : nil) }
        guard isRoot else { return nil }
        var out: [String: Tensor] = [:]
        for m in unit.members {
            let p = parameters[m.parameter]
            let t = Tensor(zeros: p.variable.shape)
            flat.withUnsafeBufferPointer { t.pointer.update(from: $0.baseAddress! + m.offset, count: m.count) }
            out[p.name] = t
        }
        return out
    }

    /// Takes this rank's slices of full `weights` (the same on every rank).
    func load(_ weights: [String: Tensor]) {
        releaseAll()
        for (u, unit) in layout.units.enumerated() {
            let flat = ShardedUpdate.flatten(unit, worldSize: layout.worldSize) { weights[parameters[$0].name] }
            let mine = shards[u].variable.value.pointer
            flat.withUnsafeBufferPointer {
                mine.update(from: $0.baseAddress! + communicator.rank * unit.shardLength, count: unit.shardLength)
            }
            valuePrecision.round(mine, count: unit.shardLength)
        }
    }

    /// `self = (1 - alpha) * self + alpha * other`, slice by slice (both sharded alike).
    func mix(toward model: LanguageModel, alpha: Float) throws {
        guard let other = model.fullySharded, other.layout == layout else {
            throw FSDPConfigError.unsupported("reference and policy are sharded differently; cannot mix them")
        }
        releaseAll()
        for (mine, theirs) in zip(shards, other.shards) {
            let a = mine.variable.value.pointer, b = theirs.variable.value.pointer
            for i in 0..<mine.variable.value.count { a[i] = valuePrecision.round((1 - alpha) * a[i] + alpha * b[i]) }
        }
    }

    /// Floats this rank keeps between steps (its slices).
    var shardElements: Int { layout.shardElements }
}
