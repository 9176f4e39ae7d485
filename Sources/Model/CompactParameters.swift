import Autograd
import Foundation
import PluginHost
import TensorCore

/// A frozen model's weights held as 16-bit values (`reference_dtype` float16 or bfloat16), half
/// the memory of float32. Each parameter has a float32 buffer that holds memory only while a
/// forward uses it: taken and widened when the model plugin fetches the parameter, given back
/// when the forward moves on to another of FSDP's units (a repeated block, or the rest), so at
/// most one unit's fetched parameters are float32 at a time (the rest unit's embedding and a
/// separate head never together; same-sized buffers come back from the buffer cache). The weights
/// never train; on a recording tape (the frozen base of LoRA, whose input gradients need them)
/// each visit of a unit leaves two hooks as FSDP's do: backward widens the same parameters again
/// before the visit's ops and gives them back after.
final class CompactParameters: ParameterAccess, ParameterStore {
    let precision: WeightPrecision
    /// The model's parameters, rebound to views of `buffers`.
    let parameters: [NamedParameter]
    private var packed: [String: [UInt16]] = [:]
    private var buffers: [String: TensorStorage] = [:]
    private let unitOfParameter: [String: Int]
    /// The unit being visited and the parameters it widened (shared with the visit's hooks).
    private var visiting: (unit: Int, visit: Visit)?
    /// The float32 buffers between uses: every visit takes the same sizes again, and going through
    /// the shared cache (bounded) would fault fresh pages in for each one at large model sizes.
    private let pool = BufferCache(minimumBytes: 0, limitBytes: .max)

    private final class Visit { var names: [String] = [] }

    init(model: LanguageModel, precision: WeightPrecision) throws {
        precondition(precision != .float32, "CompactParameters holds 16-bit weights")
        self.precision = precision
        let layout = ShardLayout(parameters: model.parameters.map { ($0.name, $0.variable.value.count) },
                                 blockName: model.plugin.blockName, worldSize: 1)
        var unitOf: [String: Int] = [:]
        for (u, unit) in layout.units.enumerated() { for m in unit.members { unitOf[model.parameters[m.parameter].name] = u } }
        unitOfParameter = unitOf
        // One parameter at a time: packed, its float32 buffer given back, the source's file pages
        // dropped, so the whole model is never float32 twice over.
        var rebound: [NamedParameter] = []
        for p in model.parameters {
            let value = p.variable.value.contiguous()
            packed[p.name] = (0..<value.count).map { precision.encode(value.pointer[$0]) }
            let buffer = TensorStorage(count: value.count, zeroed: false)
            buffer.releaseMemory()
            p.variable.value.storage.dropFileMappedPages()
            buffers[p.name] = buffer
            rebound.append(NamedParameter(name: p.name, variable: Variable(Tensor(storage: buffer, shape: value.shape))))
        }
        parameters = rebound
        // The given-back buffers sit in the buffer cache; a visit needs one unit's worth.
        BufferCache.shared.trim()
        try model.adopt(store: self, parameters: parameters, access: self)
    }

    // MARK: ParameterAccess

    func willUse(_ name: String, tape: Tape) throws {
        guard let u = unitOfParameter[name] else { return }
        if visiting?.unit != u {
            if let previous = visiting { endVisit(previous.visit, tape: tape) }
            let visit = Visit()
            visiting = (u, visit)
            tape.recordHook { [unowned self] in for n in visit.names { self.buffers[n]!.releaseMemory(into: self.pool) } }
        }
        guard let visit = visiting?.visit, !visit.names.contains(name) else { return }
        widen(name)
        visit.names.append(name)
    }

    func forwardEnded(tape: Tape) throws {
        if let current = visiting { endVisit(current.visit, tape: tape) }
        visiting = nil
    }

    private func endVisit(_ visit: Visit, tape: Tape) {
        tape.recordHook { [unowned self] in for n in visit.names { self.widen(n) } }
        for n in visit.names { buffers[n]!.releaseMemory(into: pool) }
    }

    /// Takes parameter `name`'s buffer and writes its float32 values.
    private func widen(_ name: String) {
        let buffer = buffers[name]!
        guard !buffer.isResident else { return }
        buffer.acquireMemory(from: pool)
        widen(name, into: buffer.pointer)
    }

    private func widen(_ name: String, into out: UnsafeMutablePointer<Float>) {
        packed[name]!.withUnsafeBufferPointer { bits in
            if precision == .float16 {
                HalfPrecision.widen(float16: bits.baseAddress!, into: out, count: bits.count)
            } else {
                HalfPrecision.widen(bfloat16: bits.baseAddress!, into: out, count: bits.count)
            }
        }
    }

    /// Parameter `name`'s float32 values as a new tensor (not its buffer): one parameter read
    /// without widening the model.
    func decoded(_ name: String) -> Tensor? {
        guard let p = parameters.first(where: { $0.name == name }) else { return nil }
        let t = Tensor(uninitialized: p.variable.shape)
        widen(name, into: t.pointer)
        return t
    }

    // MARK: ParameterStore

    func fullState() throws -> [String: Tensor]? {
        var out: [String: Tensor] = [:]
        for p in parameters { out[p.name] = decoded(p.name) }
        return out
    }

    func load(_ weights: [String: Tensor]) throws {
        releaseAll()
        for p in parameters {
            let t = weights[p.name]!.contiguous()
            packed[p.name] = (0..<t.count).map { precision.encode(t.pointer[$0]) }
        }
    }

    func mix(toward other: LanguageModel, alpha: Float) throws {
        releaseAll()
        let theirs = other.state
        for p in parameters {
            let t = theirs[p.name]!.contiguous()
            var bits = packed[p.name]!
            for i in 0..<bits.count { bits[i] = precision.encode((1 - alpha) * precision.decode(bits[i]) + alpha * t.pointer[i]) }
            packed[p.name] = bits
        }
    }

    func releaseAll() {
        visiting = nil
        for buffer in buffers.values { buffer.releaseMemory(into: pool) }
    }

    deinit {
        releaseAll()
        pool.trim()
    }

    /// Bytes held between uses.
    var heldBytes: Int { packed.values.reduce(0) { $0 + $1.count } * MemoryLayout<UInt16>.size }
}

/// Who holds a model's parameters when they are not plain float32 tensors between uses.
public protocol ParameterStore: AnyObject {
    /// Full float32 values (on the root under FSDP; nil elsewhere). Collective under FSDP.
    func fullState() throws -> [String: Tensor]?
    /// Takes full `weights` (the same on every rank).
    func load(_ weights: [String: Tensor]) throws
    /// `self = (1 - alpha) * self + alpha * other` (TR-DPO reference sync).
    func mix(toward other: LanguageModel, alpha: Float) throws
}
