import Autograd
import Foundation
import PluginHost
import TensorCore

/// A frozen model's weights held as 16-bit values (`reference_dtype` float16 or bfloat16), half
/// the memory of float32. The units are those of FSDP (each repeated block, plus the rest): a
/// unit is expanded to float32 when the model plugin first fetches one of its parameters and
/// freed when the forward moves on, so one unit at a time is whole. The weights never train; on
/// a recording tape (the frozen base of LoRA, whose input gradients need them) each visit of a
/// unit leaves two hooks as FSDP's do: backward expands the unit again before its ops and frees
/// it after them.
final class CompactParameters: ParameterAccess, ParameterStore {
    let layout: ShardLayout
    let precision: WeightPrecision
    let parameters: [NamedParameter]
    private var packed: [[UInt16]]
    private let storages: [TensorStorage]
    private let unitOfParameter: [String: Int]
    private var visiting: Int?

    init(model: LanguageModel, precision: WeightPrecision) throws {
        precondition(precision != .float32, "CompactParameters holds 16-bit weights")
        // Each unit packed and released as soon as it is filled: one float32 unit at a time.
        var packed: [[UInt16]] = []
        let units = try UnitStorages(model: model, worldSize: 1, requiresGrad: false) { _, storage in
            packed.append((0..<storage.count).map { precision.encode(storage.pointer[$0]) })
            storage.releaseMemory()
        }
        // The released units sit in the buffer cache; expanding needs one or two at a time.
        BufferCache.shared.trim()
        self.packed = packed
        self.layout = units.layout
        self.precision = precision
        self.parameters = units.parameters
        self.storages = units.storages
        self.unitOfParameter = units.unitOfParameter
        try model.adopt(store: self, parameters: parameters, access: self)
    }

    // MARK: ParameterAccess

    func willUse(_ name: String, tape: Tape) throws {
        guard let u = unitOfParameter[name], u != visiting else { return }
        if let previous = visiting { endVisit(of: previous, tape: tape) }
        expand(u)
        visiting = u
        tape.recordHook { [unowned self] in self.storages[u].releaseMemory() }
    }

    func forwardEnded(tape: Tape) throws {
        if let u = visiting { endVisit(of: u, tape: tape) }
        visiting = nil
    }

    private func endVisit(of u: Int, tape: Tape) {
        tape.recordHook { [unowned self] in self.expand(u) }
        storages[u].releaseMemory()
    }

    private func expand(_ u: Int) {
        let storage = storages[u]
        guard !storage.isResident else { return }
        storage.acquireMemory()
        let p = storage.pointer
        packed[u].withUnsafeBufferPointer { bits in
            if precision == .float16 {
                HalfPrecision.widen(float16: bits.baseAddress!, into: p, count: bits.count)
            } else {
                HalfPrecision.widen(bfloat16: bits.baseAddress!, into: p, count: bits.count)
            }
        }
    }

    // MARK: ParameterStore

    func fullState() throws -> [String: Tensor]? {
        var out: [String: Tensor] = [:]
        for (u, unit) in layout.units.enumerated() {
            for m in unit.members {
                let p = parameters[m.parameter]
                let t = Tensor(zeros: p.variable.shape)
                for i in 0..<m.count { t.pointer[i] = precision.decode(packed[u][m.offset + i]) }
                out[p.name] = t
            }
        }
        return out
    }

    func load(_ weights: [String: Tensor]) throws {
        releaseAll()
        for (u, unit) in layout.units.enumerated() {
            for m in unit.members {
                let t = weights[parameters[m.parameter].name]!.contiguous()
                for i in 0..<m.count { packed[u][m.offset + i] = precision.encode(t.pointer[i]) }
            }
        }
    }

    func mix(toward other: LanguageModel, alpha: Float) throws {
        releaseAll()
        let theirs = other.state
        for (u, unit) in layout.units.enumerated() {
            for m in unit.members {
                let name = parameters[m.parameter].name
                let t = theirs[name]!.contiguous()
                for i in 0..<m.count {
                    let mine = precision.decode(packed[u][m.offset + i])
                    packed[u][m.offset + i] = precision.encode((1 - alpha) * mine + alpha * t.pointer[i])
                }
            }
        }
    }

    func releaseAll() {
        visiting = nil
        for s in storages { s.releaseMemory() }
    }

    /// Bytes held between uses.
    var heldBytes: Int { packed.reduce(0) { $0 + $1.count } * MemoryLayout<UInt16>.size }
}

/// Who holds a model's parameters when they are not plain float32 tensors between uses.
protocol ParameterStore: AnyObject {
    /// Full float32 values (on the root under FSDP; nil elsewhere). Collective under FSDP.
    func fullState() throws -> [String: Tensor]?
    /// Takes full `weights` (the same on every rank).
    func load(_ weights: [String: Tensor]) throws
    /// `self = (1 - alpha) * self + alpha * other` (TR-DPO reference sync).
    func mix(toward other: LanguageModel, alpha: Float) throws
}
