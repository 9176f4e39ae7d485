import Foundation

/// What the restricted unpickler builds: plain containers and scalars, storages, tensors.
indirect enum PickleValue {
    case none, bool(Bool), int(Int), float(Double), string(String)
    case tuple([PickleValue]), list([PickleValue])
    /// A dict or an OrderedDict, keys in insertion order.
    case dict([(key: PickleValue, value: PickleValue)])
    /// One of the callables a weights-only load may use (`AllowedGlobal`), not yet called.
    case global(AllowedGlobal)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)

    var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    var intValue: Int? {
        switch self {
        case let .int(i): return i
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
    var intList: [Int]? {
        guard case let .tuple(items) = self else { return nil }
        let ints = items.compactMap(\.intValue)
        return ints.count == items.count ? ints : nil
    }
}

/// The globals `torch.load(weights_only=True)` admits for a state dict: the dict type, the
/// tensor rebuild function and the typed storages. Anything else is refused by name.
enum AllowedGlobal: Equatable {
    case orderedDict, rebuildTensorV2, storage(SafeTensorsDType)

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch", let storage) where Self.storages[storage] != nil: self = .storage(Self.storages[storage]!)
        default: return nil
        }
    }

    static let storages: [String: SafeTensorsDType] = [
        "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]
}

/// A storage the pickle refers to by key (`<archive>/data/<key>`), and its element type.
struct TorchStorageRef { let key: String; let dtype: SafeTensorsDType; let count: Int }

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
struct TorchTensorRef { let storage: TorchStorageRef; let offset: Int; let shape: [Int]; let strides: [Int] }

/// A pickle interpreter that builds values and never calls anything: GLOBAL is looked up in
/// `AllowedGlobal` (anything else is refused before the next opcode), REDUCE only applies the
/// OrderedDict constructor and the tensor rebuild, and there is no opcode that runs code,
/// imports a module or builds an object of another class. Opcodes it does not know are refused.
struct RestrictedUnpickler {
    let path: String
    let bytes: UnsafeRawBufferPointer

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var at = 0

    init(path: String, bytes: UnsafeRawBufferPointer) {
        self.path = path
        self.bytes = bytes
    }

    private func refuse(_ detail: String) -> CheckpointError { .refusedPickle(file: path, detail: detail) }
    private func damaged(_ detail: String) -> CheckpointError { .malformedArchive(file: path, detail: "data.pkl: \(detail)") }

    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, at + n <= bytes.count else { throw damaged("ends inside an opcode at byte \(at)") }
        defer { at += n }
        return UnsafeRawBufferPointer(rebasing: bytes[at..<(at + n)])
    }
    private mutating func uint(_ n: Int) throws -> Int {
        let b = try take(n)
        var v = 0
        for i in (0..<n).reversed() { v = v << 8 | Int(b[i]) }
        return v
    }
    private mutating func text(_ n: Int) throws -> String {
        let b = try take(n)
        guard let s = String(validating: b, as: UTF8.self) else { throw damaged("a string that is not UTF-8") }
        return s
    }
    private mutating func line() throws -> String {
        guard let end = bytes[at...].firstIndex(of: 0x0A) else { throw damaged("unterminated GLOBAL") }
        let s = try text(end - at)
        at += 1
        return s
    }
    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw damaged("stack underflow at byte \(at)") }
        return v
    }
    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw damaged("MARK missing at byte \(at)") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    /// Runs the pickle to its STOP and returns the value it built.
    mutating func load() throws -> PickleValue {
        while true {
            let opcode = try take(1)[0]
            switch opcode {
            case 0x80: _ = try take(1)                                   // PROTO
            case 0x95: _ = try take(8)                                   // FRAME
            case 0x2E: return try pop()                                  // STOP
            case 0x28: marks.append(stack.count)                         // MARK
            case 0x4E: stack.append(.none)                               // NONE
            case 0x88: stack.append(.bool(true))                         // NEWTRUE
            case 0x89: stack.append(.bool(false))                        // NEWFALSE
            case 0x4B: stack.append(.int(try uint(1)))                   // BININT1
            case 0x4D: stack.append(.int(try uint(2)))                   // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))   // BININT
            case 0x8A:                                                   // LONG1
                let n = try uint(1)
                guard n <= 8 else { throw refuse("an integer of \(n) bytes") }
                let b = try take(n)
                var v: Int64 = 0
                for i in (0..<n).reversed() { v = v << 8 | Int64(b[i]) }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 { v -= Int64(1) << (8 * n) }
                stack.append(.int(Int(v)))
            case 0x47:                                                   // BINFLOAT (big-endian)
                let b = try take(8)
                var bits: UInt64 = 0
                for i in 0..<8 { bits = bits << 8 | UInt64(b[i]) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x58: stack.append(.string(try text(try uint(4))))      // BINUNICODE
            case 0x8C: stack.append(.string(try text(try uint(1))))      // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try text(try uint(8))))      // BINUNICODE8
            case 0x29: stack.append(.tuple([]))                          // EMPTY_TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                 // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))           // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x74: stack.append(.tuple(try popToMark()))             // TUPLE
            case 0x5D: stack.append(.list([]))                           // EMPTY_LIST
            case 0x6C: stack.append(.list(try popToMark()))              // LIST
            case 0x7D: stack.append(.dict([]))                           // EMPTY_DICT
            case 0x61:                                                   // APPEND
                let v = try pop()
                guard case var .list(items) = try pop() else { throw damaged("APPEND to a non-list") }
                items.append(v); stack.append(.list(items))
            case 0x65:                                                   // APPENDS
                let vs = try popToMark()
                guard case var .list(items) = try pop() else { throw damaged("APPENDS to a non-list") }
                items += vs; stack.append(.list(items))
            case 0x73:                                                   // SETITEM
                let v = try pop(), k = try pop()
                guard case var .dict(items) = try pop() else { throw damaged("SETITEM on a non-dict") }
                items.append((k, v)); stack.append(.dict(items))
            case 0x75:                                                   // SETITEMS
                let kvs = try popToMark()
                guard kvs.count % 2 == 0, case var .dict(items) = try pop() else { throw damaged("SETITEMS on a non-dict") }
                for i in stride(from: 0, to: kvs.count, by: 2) { items.append((kvs[i], kvs[i + 1])) }
                stack.append(.dict(items))
            case 0x71: memo[try uint(1)] = stack.last                    // BINPUT
            case 0x72: memo[try uint(4)] = stack.last                    // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last                     // MEMOIZE
            case 0x68, 0x6A:                                             // BINGET, LONG_BINGET
                let key = try uint(opcode == 0x68 ? 1 : 4)
                guard let v = memo[key] else { throw damaged("memo entry \(key) missing") }
                stack.append(v)
            case 0x63:                                                   // GLOBAL
                let module = try line(), name = try line()
                guard let g = AllowedGlobal(module: module, name: name) else { throw refuse("the pickle names \(module).\(name)") }
                stack.append(.global(g))
            case 0x93:                                                   // STACK_GLOBAL
                guard let name = try pop().stringValue, let module = try pop().stringValue else { throw damaged("STACK_GLOBAL without names") }
                guard let g = AllowedGlobal(module: module, name: name) else { throw refuse("the pickle names \(module).\(name)") }
                stack.append(.global(g))
            case 0x51:                                                   // BINPERSID
                stack.append(try storage(from: try pop()))
            case 0x52:                                                   // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args))
            default:
                throw refuse(String(format: "opcode 0x%02x at byte %d (objects, imports and calls are not read)", opcode, at - 1))
            }
        }
    }

    /// `('storage', <storage type>, key, location, element count)`.
    private func storage(from pid: PickleValue) throws -> PickleValue {
        guard case let .tuple(items) = pid, items.count == 5, items[0].stringValue == "storage",
              case let .global(.storage(dtype)) = items[1], let key = items[2].stringValue, let count = items[4].intValue,
              count >= 0 else {
            throw refuse("a persistent id that is not a typed storage")
        }
        return .storage(TorchStorageRef(key: key, dtype: dtype, count: count))
    }

    private func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        switch callable {
        case .global(.orderedDict):
            guard case let .tuple(items) = args, items.isEmpty else { throw refuse("OrderedDict called with arguments") }
            return .dict([])
        case .global(.rebuildTensorV2):
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard case let .tuple(items) = args, items.count >= 6, case let .storage(storage) = items[0],
                  let offset = items[1].intValue, let shape = items[2].intList, let strides = items[3].intList,
                  shape.count == strides.count, offset >= 0, shape.allSatisfy({ $0 >= 0 }) else {
                throw refuse("_rebuild_tensor_v2 with arguments that are not a tensor's")
            }
            return .tensor(TorchTensorRef(storage: storage, offset: offset, shape: shape, strides: strides))
        default:
            throw refuse("the pickle calls something other than OrderedDict or _rebuild_tensor_v2")
        }
    }
}
