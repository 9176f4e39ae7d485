/// Errors raised by tensor ops before any kernel runs, so a bad call never reads out of bounds.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    /// Operand shapes that do not fit the op; `detail` names both shapes.
    case shapeMismatch(op: String, detail: String)
    /// An index (token id, label, position) outside the valid range.
    case indexOutOfRange(op: String, detail: String)
    /// An argument that is not a shape problem (negative eps, zero heads, ...).
    case invalidArgument(op: String, detail: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, detail): return "\(op): shape mismatch: \(detail)"
        case let .indexOutOfRange(op, detail): return "\(op): index out of range: \(detail)"
        case let .invalidArgument(op, detail): return "\(op): invalid argument: \(detail)"
        }
    }
}
