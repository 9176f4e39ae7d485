import Autograd
import CDPOHostSDK
import TensorCore

/// The tensors of one plugin call, addressed by `dph_tensor` handles (index + 1; 0 = none).
/// Dropping the arena releases every handle the call created.
final class TensorArena {
    enum Slot {
        case float(Variable)
        case index(IndexTensor)
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

    func float(_ h: dph_tensor, _ what: String = "tensor") throws -> Variable {
        guard case let .float(v) = try slot(h) else {
            throw HostCallError.invalid("\(what) (handle \(h)) is int32; a float32 tensor is required")
        }
        return v
    }

    func optionalFloat(_ h: dph_tensor, _ what: String) throws -> Variable? {
        h == 0 ? nil : try float(h, what)
    }

    func index(_ h: dph_tensor, _ what: String = "tensor") throws -> IndexTensor {
        guard case let .index(t) = try slot(h) else {
            throw HostCallError.invalid("\(what) (handle \(h)) is float32; an int32 tensor is required")
        }
        return t
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
