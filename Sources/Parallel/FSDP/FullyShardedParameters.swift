import Autograd
import Foundation
import Model
import PluginHost
import TensorCore

/// A setting FSDP cannot run with, or models it cannot combine.
public enum FSDPConfigError: Error, CustomStringConvertible {
    case indivisible(key: String, value: Int, by: Int, reason: String)
    case unsupported(String)
    public var description: String {
        switch self {
        case let .indivisible(key, value, by, reason): return "\(key)=\(value) must be a multiple of \(by) (\(reason))"
        case let .unsupported(what): return what
        }
    }
}

/// A model's parameters as FSDP holds them: between uses each rank keeps only its slice of every
/// unit (`ShardLayout`: each repeated block, plus one unit for the rest). A unit is all-gathered
/// when the model plugin first fetches one of its parameters and freed when the forward moves on
/// to another unit.
///
/// On a recording tape each use of a unit (a "visit": a run of fetches of the same unit) leaves two
/// hooks around the unit's ops. Backward runs them in reverse: the one recorded at the visit's end
/// gathers the unit again before the unit's backward; the one recorded at its start then
/// reduce-scatters the unit's gradients into this rank's shard gradient (averaged over ranks) and
/// frees the whole unit and its full-size gradients. Every rank runs the same forward, so every
/// rank meets the same collectives in the same order.
///
/// The unit collectives run on the communicator's `CollectiveQueue`. With `overlap` on, a
/// reduce-scatter is not waited for (the next unit's backward runs meanwhile; all are waited for
/// before the optimizer reads the gradients), and each gather starts the gather of the unit that
/// followed the same two units last time (`GatherForecast`), so the next unit arrives while this
/// one computes: at most one unit more is whole at a time. With it off each collective is waited
/// for at once. Both run the same collectives on the same buffers, so losses and checkpoints are
/// the same bit for bit (docs/multi-host.md).
public final class FullyShardedParameters: ParameterAccess, ParameterStore {
    /// What travels between ranks: float32, or bfloat16 for the parameters all-gathered for
    /// compute and the gradients reduce-scattered (`model.fsdp_policy_mp=bfloat16`, as the
    /// reference's MixedPrecision for the policy). The slices and the optimizer stay float32;
    /// the kernels compute in float32 on the bf16-rounded parameters (this CPU has no bf16
    /// arithmetic), so what bf16 saves here is half the bytes on the wire.
    public enum Precision: String { case float32, bfloat16 }

    public let layout: ShardLayout
    public let communicator: Communicator
    public let parameters: [NamedParameter]
    /// Per unit: this rank's slice (float32 master), as a variable whose gradient is the reduced
    /// gradient of the slice when the model is trained.
    public let shards: [NamedParameter]
    /// Per unit: one buffer of `shardLength * worldSize` floats that the unit's parameters view.
    private let storages: [TensorStorage]
    private let unitOfParameter: [String: Int]
    private let trainable: Bool
    let precision: Precision
    /// The model's `valuePrecision`: loaded and mixed values are rounded to it.
    private let valuePrecision: WeightPrecision
    /// The unit of the visit in progress during a forward.
    private var visiting: Int?
    /// Start collectives ahead and leave reductions running (see the type's comment).
    let overlap: Bool
    private let queue: CollectiveQueue
    private var forecast = GatherForecast()
    /// Gathers started and not yet waited for, by unit.
    private var pendingGathers: [Int: CollectiveQueue.Pending] = [:]
    /// The unit gathered ahead of its use and not yet used (at most one).
    private var speculative: Int?
    private var pendingReductions: [CollectiveQueue.Pending] = []
    /// Most floats whole at once (all units' gathered buffers), for the memory report.
    public private(set) var peakGatheredElements = 0

    /// Takes over `model`'s parameters: each rank keeps its slice of their current values, and
    /// the full values are freed until a forward uses them.
    public init(model: LanguageModel, communicator: Communicator, precision: Precision = .float32, overlap: Bool = true) throws {
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
        self.overlap = overlap
        self.queue = try communicator.backgroundQueue()
        try model.adopt(store: self, parameters: parameters, access: self)
    }

    // MARK: - ParameterAccess

    public func willUse(_ name: String, tape: Tape) throws {
        guard let u = unitOfParameter[name], u != visiting else { return }
        if let previous = visiting { try endVisit(of: previous, tape: tape) }
        try gather(u)
        visiting = u
        // A frozen model on a recording tape (LoRA's base) still needs its weights in backward
        // for the input gradients: gathered again there and freed after, with nothing to reduce.
        tape.recordHook { [unowned self] in
            if self.trainable { try self.reduceGradients(of: u) } else { try self.release(u) }
        }
    }

    public func forwardEnded(tape: Tape) throws {
        if let u = visiting { try endVisit(of: u, tape: tape) }
        visiting = nil
    }

    private func endVisit(of u: Int, tape: Tape) throws {
        tape.recordHook { [unowned self] in try self.gather(u) }
        try release(u)
    }

    // MARK: - Collectives

    /// Makes unit `u` whole from every rank's slice (waiting for its gather when one was started
    /// ahead), and with `overlap` starts the gather of the unit forecast to follow.
    func gather(_ u: Int) throws {
        let next = overlap ? forecast.record(u) : nil
        if speculative == u { speculative = nil }
        if let pending = pendingGathers.removeValue(forKey: u) {
            try pending.wait()
        } else if !storages[u].isResident {
            try startGather(u).wait()
        }
        if let next, next != u, !storages[next].isResident {
            if let stale = speculative { try release(stale) }
            pendingGathers[next] = try startGather(next)
            speculative = next
        }
        peakGatheredElements = max(peakGatheredElements, storages.reduce(0) { $0 + ($1.isResident ? $1.count : 0) })
    }

    /// Queues the all-gather that makes unit `u` whole.
    private func startGather(_ u: Int) throws -> CollectiveQueue.Pending {
        let storage = storages[u]
        storage.acquireMemory()
        let unit = layout.units[u]
        let mine = UnsafeBufferPointer(start: shards[u].variable.value.pointer, count: unit.shardLength)
        let whole = UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count)
        switch precision {
        case .float32:
            return try queue.allGather(mine, into: whole)
        case .bfloat16:
            let send = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: mine.count)
            for i in 0..<mine.count { send[i] = BFloat16.bits(mine[i]) }
            let all = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: whole.count)
            return try queue.allGather(bfloat16: UnsafeBufferPointer(send), into: all) {
                for i in 0..<all.count { whole[i] = BFloat16.value(all[i]) }
                send.deallocate()
                all.deallocate()
            }
        }
    }

    /// Frees unit `u`'s whole values (after its gather, if one is on its way).
    private func release(_ u: Int) throws {
        if let pending = pendingGathers.removeValue(forKey: u) { try pending.wait() }
        if speculative == u { speculative = nil }
        storages[u].releaseMemory()
    }

    /// Queues the reduce-scatter that adds the rank-average of unit `u`'s full gradients to this
    /// rank's shard gradient, and frees them and the whole unit. The shard gradient is written on
    /// the queue's thread: read it only after `finishReductions()`.
    func reduceGradients(of u: Int) throws {
        let unit = layout.units[u]
        let flat = UnsafeMutableBufferPointer<Float>.allocate(capacity: unit.shardLength * layout.worldSize)
        flat.initialize(repeating: 0)
        unit.flatten(into: flat) { parameters[$0].variable.grad }
        for m in unit.members { parameters[m.parameter].variable.setGrad(nil) }
        try release(u)
        let grad = shards[u].variable.grad!.pointer
        let scale = 1 / Float(communicator.size)
        let n = unit.shardLength
        let pending: CollectiveQueue.Pending
        switch precision {
        case .float32:
            let reduced = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            pending = try queue.reduceScatterSum(UnsafeBufferPointer(flat), into: reduced) {
                for i in 0..<n { grad[i] += reduced[i] * scale }
                flat.deallocate()
                reduced.deallocate()
            }
        case .bfloat16:
            // Divided by the world size before the bf16 sum, which keeps partial sums in range.
            let send = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: flat.count)
            for i in 0..<flat.count { send[i] = BFloat16.bits(flat[i] * scale) }
            flat.deallocate()
            let reduced = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: n)
            pending = try queue.reduceScatterSum(bfloat16: UnsafeBufferPointer(send), into: reduced) {
                for i in 0..<n { grad[i] += BFloat16.value(reduced[i]) }
                send.deallocate()
                reduced.deallocate()
            }
        }
        if overlap { pendingReductions.append(pending) } else { try pending.wait() }
    }

    /// Waits for every queued reduction: the shard gradients are then complete.
    public func finishReductions() throws {
        let pending = pendingReductions
        pendingReductions = []
        for p in pending { try p.wait() }
    }

    /// Waits for every queued collective and frees every gathered unit (after the optimizer
    /// changed the shards, any whole copy is stale).
    public func releaseAll() throws {
        try finishReductions()
        visiting = nil
        for u in storages.indices { try release(u) }
    }

    // MARK: - Whole values

    /// The full parameters on the root (gathered unit by unit); nil on the other ranks. Collective.
    public func fullState() throws -> [String: Tensor]? {
        try finishReductions()
        var out: [String: Tensor] = [:]
        for (u, shard) in shards.enumerated() {
            for (name, t) in try gatherToRoot(unit: u, slice: shard.variable.value) ?? [:] { out[name] = t }
        }
        return communicator.isRoot ? out : nil
    }

    /// Every rank's `slice` of unit `u` (a parameter slice or an optimizer-state slice) as full
    /// tensors named after the unit's parameters, on the root; nil elsewhere. Collective.
    public func gatherToRoot(unit u: Int, slice: Tensor) throws -> [String: Tensor]? {
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
    public func load(_ weights: [String: Tensor]) throws {
        try releaseAll()
        for (u, unit) in layout.units.enumerated() {
            let flat = unit.flatten(worldSize: layout.worldSize) { weights[parameters[$0].name] }
            let mine = shards[u].variable.value.pointer
            flat.withUnsafeBufferPointer {
                mine.update(from: $0.baseAddress! + communicator.rank * unit.shardLength, count: unit.shardLength)
            }
            valuePrecision.round(mine, count: unit.shardLength)
        }
    }

    /// `self = (1 - alpha) * self + alpha * other`, slice by slice (both sharded alike).
    public func mix(toward model: LanguageModel, alpha: Float) throws {
        guard let other = model.fullySharded, other.layout == layout else {
            throw FSDPConfigError.unsupported("reference and policy are sharded differently; cannot mix them")
        }
        try releaseAll()
        for (mine, theirs) in zip(shards, other.shards) {
            let a = mine.variable.value.pointer, b = theirs.variable.value.pointer
            for i in 0..<mine.variable.value.count { a[i] = valuePrecision.round((1 - alpha) * a[i] + alpha * b[i]) }
        }
    }

    /// Floats this rank keeps between steps (its slices).
    var shardElements: Int { layout.shardElements }
}

/// Which unit FSDP will gather next, from the order of gathers seen so far: the unit that followed
/// the same two units last time (forward, backward, a second pass over a shared prompt and
/// activation checkpointing's recomputation all repeat their order from step to step). The same
/// history on every rank gives the same forecast, so every rank queues the same collectives.
struct GatherForecast {
    private var last: (Int, Int)?
    private var following: [Pair: Int] = [:]

    private struct Pair: Hashable { let a: Int, b: Int }

    /// Records that `u` is gathered now; returns the unit forecast to come next, if any. A unit
    /// gathered twice in a row counts once.
    mutating func record(_ u: Int) -> Int? {
        if let (a, b) = last {
            guard u != b else { return following[Pair(a: a, b: b)] }
            following[Pair(a: a, b: b)] = u
            last = (b, u)
        } else {
            last = (u, u)
        }
        let (a, b) = last!
        return following[Pair(a: a, b: b)]
    }
}

extension LanguageModel {
    /// FSDP's slices of this model's parameters, when it is sharded.
    public var fullySharded: FullyShardedParameters? { store as? FullyShardedParameters }
}
