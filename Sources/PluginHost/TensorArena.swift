import Autograd
import CDPOHostSDK
import TensorCore

/// The tensors of one plugin call, addressed by `dph_tensor` handles (index + 1; 0 = none).
/// Dropping the arena releases every handle the call created.
final class TensorArena {
    enum Slot {
        case float(Variable)
        case index(IndexTensor)

        var variable: Variable? { if case let .float(v) = self { v } else { nil } }
        var indexTensor: IndexTensor? { if case let .index(t) = self { t } else { nil } }
        /// The element type, as the SDK names it.
        var dtype: String { if case .float = self { "float32" } else { "int32" } }
    }

    let tape: Tape
    private var slots: [Slot] = []

    init(tape: Tape) { self.tape = tape }

    func add(_ v: Variable) -> dph_tensor {
        slots.append(.float(v))
        return dph_tensor(slots.count)
    }

    func add(_ t: IndexTensor) -> dph_tensor {
        slots.append(.index(t))
        return dph_tensor(slots.count)
    }

    func slot(_ h: dph_tensor) throws -> Slot {
        guard h > 0, h <= dph_tensor(slots.count) else {
            throw HostCallError.invalid("tensor handle \(h) is not valid in this call (handles live only for the call that made them)")
        }
        return slots[Int(h) - 1]
    }

    /// The tensor behind `h` as `read` takes it from its slot; a tensor of the other type is an
    /// error naming `what` and both types.
    private func typed<T>(_ h: dph_tensor, _ what: String, _ read: (Slot) -> T?, required: String) throws -> T {
        let slot = try slot(h)
        guard let tensor = read(slot) else {
            throw HostCallError.invalid("\(what) (handle \(h)) is \(slot.dtype); \(required) tensor is required")
        }
        return tensor
    }

    func float(_ h: dph_tensor, _ what: String = "tensor") throws -> Variable {
        try typed(h, what, \.variable, required: "a float32")
    }

    func optionalFloat(_ h: dph_tensor, _ what: String) throws -> Variable? {
        h == 0 ? nil : try float(h, what)
    }

    func index(_ h: dph_tensor, _ what: String = "tensor") throws -> IndexTensor {
        try typed(h, what, \.indexTensor, required: "an int32")
    }

    func optionalIndex(_ h: dph_tensor, _ what: String) throws -> IndexTensor? {
        h == 0 ? nil : try index(h, what)
    }

    func shape(_ h: dph_tensor) throws -> [Int] {
        switch try slot(h) {
        case let .float(v): return v.shape
        case let .index(t): return t.shape
        }
    }
}

extension TensorError: TensorErrorConvertible {
    var hostStatus: Int32 {
        switch self {
        case .shapeMismatch: return Int32(DPH_ERR_SHAPE)
        case .indexOutOfRange: return Int32(DPH_ERR_INDEX)
        case .invalidArgument: return Int32(DPH_ERR_INVALID_ARGUMENT)
        }
    }

    var hostMessage: String { description }
}
