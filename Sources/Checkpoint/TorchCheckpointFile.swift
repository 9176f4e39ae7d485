import Foundation
import TensorCore

/// The tensors in a PyTorch checkpoint (`torch.save`'s zip: `<name>/data.pkl` and one
/// `<name>/data/<key>` per storage), read without executing anything (`RestrictedUnpickler`).
/// The pickle may be a state dict or the DPO reference's archive `{step_idx, state, metrics}`,
/// whose `state` is then the state dict. Every tensor's extent is checked against its storage.
public final class TorchCheckpointFile: @unchecked Sendable {
    public let path: String
    private let archive: ZipArchive
    private let prefix: String
    private let tensors: [String: TorchTensorRef]

    public init(path: String) throws {
        self.path = path
        archive = try ZipArchive(path: path)
        let pickles = archive.entries.keys.filter { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
        guard pickles.count == 1, let pickleName = pickles.first, let pickle = archive.entries[pickleName] else {
            throw CheckpointError.malformedArchive(file: path, detail: "expected one data.pkl, found \(pickles.count)")
        }
        prefix = String(pickleName.dropLast("data.pkl".count))
        var unpickler = RestrictedUnpickler(path: path, bytes: try archive.bytes(of: pickle, in: path))
        let root = try unpickler.load()
        var tensors: [String: TorchTensorRef] = [:]
        for (name, value) in try Self.stateDict(root, path: path) {
            guard case let .tensor(t) = value else { continue }   // non-tensor entries (none in a state dict)
            try Self.check(t, name: name, archive: archive, prefix: prefix, path: path)
            tensors[name] = t
        }
        self.tensors = tensors
    }

    /// The dict of name to value: the root itself, or the `state` of a `{step_idx, state, metrics}` archive.
    private static func stateDict(_ root: PickleValue, path: String) throws -> [(String, PickleValue)] {
        guard case let .dict(items) = root else {
            throw CheckpointError.malformedArchive(file: path, detail: "the pickle is not a dict of tensors")
        }
        if let state = items.first(where: { $0.key.stringValue == "state" })?.value, case .dict = state,
           !items.contains(where: { if case .tensor = $0.value { return true } else { return false } }) {
            return try stateDict(state, path: path)
        }
        return try items.map { item in
            guard let name = item.key.stringValue else {
                throw CheckpointError.malformedArchive(file: path, detail: "a key that is not a string")
            }
            return (name, item.value)
        }
    }

    private static func check(_ t: TorchTensorRef, name: String, archive: ZipArchive, prefix: String, path: String) throws {
        let entryName = prefix + "data/" + t.storage.key
        guard let entry = archive.entries[entryName] else {
            throw CheckpointError.malformedEntry(file: path, tensor: name, detail: "storage \(entryName) is missing")
        }
        let (bytes, overflow) = t.storage.count.multipliedReportingOverflow(by: t.storage.dtype.size)
        guard !overflow, entry.size == bytes else {
            throw CheckpointError.malformedEntry(file: path, tensor: name, detail: "storage \(entryName) holds \(entry.size) bytes, not \(t.storage.count) × \(t.storage.dtype.size)")
        }
        guard t.strides.allSatisfy({ $0 >= 0 }) else {
            throw CheckpointError.malformedEntry(file: path, tensor: name, detail: "negative stride \(t.strides)")
        }
        if t.shape.contains(0) { return }
        // More elements than its storage holds would be a view repeating values (stride 0), which
        // no state dict needs and which could ask for any amount of memory.
        var elements = 1
        for extent in t.shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= t.storage.count else {
                throw CheckpointError.malformedEntry(file: path, tensor: name, detail: "shape \(t.shape) has more elements than its storage (\(t.storage.count))")
            }
            elements = product
        }
        // The view's last element, in arithmetic that cannot overflow on a hostile file.
        var last = t.offset
        for (extent, stride) in zip(t.shape, t.strides) {
            let (step, o1) = (extent - 1).multipliedReportingOverflow(by: stride)
            let (sum, o2) = last.addingReportingOverflow(step)
            guard !o1, !o2 else { last = Int.max; break }
            last = sum
        }
        guard last < t.storage.count else {
            throw CheckpointError.offsetsOutOfRange(file: path, tensor: name, begin: t.offset, end: last == Int.max ? last : last + 1, dataSize: t.storage.count)
        }
    }

    /// Tensor names, sorted.
    public var tensorNames: [String] { tensors.keys.sorted() }

    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    private func ref(_ name: String) throws -> TorchTensorRef {
        guard let t = tensors[name] else { throw CheckpointError.tensorNotFound(file: path, tensor: name) }
        return t
    }

    public func shape(of name: String) throws -> [Int] { try ref(name).shape }

    public func dtype(of name: String) throws -> SafeTensorsDType { try ref(name).storage.dtype }

    /// The tensor's elements in row-major order, widened to float32 (float16 and bfloat16 exactly).
    public func floatTensor(named name: String) throws -> Tensor {
        let t = try ref(name)
        let read: (UnsafeRawPointer, Int) -> Float
        switch t.storage.dtype {
        case .f32: read = { $0.loadUnaligned(fromByteOffset: $1 * 4, as: Float.self) }
        case .f16: read = { HalfConversion.float(fromHalf: $0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self)) }
        case .bf16: read = { HalfConversion.float(fromBFloat16: $0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self)) }
        case .f64: read = { Float($0.loadUnaligned(fromByteOffset: $1 * 8, as: Double.self)) }
        default:
            throw CheckpointError.unsupportedConversion(file: path, tensor: name, dtype: t.storage.dtype.rawValue, target: "float32")
        }
        return try Tensor(shape: t.shape, values: try elements(t, read))
    }

    /// An integer tensor's elements in row-major order.
    public func int64Values(named name: String) throws -> [Int64] {
        let t = try ref(name)
        guard t.storage.dtype == .i64 else {
            throw CheckpointError.unsupportedConversion(file: path, tensor: name, dtype: t.storage.dtype.rawValue, target: "int64")
        }
        return try elements(t) { $0.loadUnaligned(fromByteOffset: $1 * 8, as: Int64.self) }
    }

    /// Walks the view's indices in row-major order (an odometer over shape and strides).
    private func elements<T>(_ t: TorchTensorRef, _ read: (UnsafeRawPointer, Int) -> T) throws -> [T] {
        let entry = archive.entries[prefix + "data/" + t.storage.key]!
        let base = try archive.bytes(of: entry, in: path).baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        let count = t.shape.reduce(1, *)
        var out: [T] = []
        out.reserveCapacity(count)
        guard count > 0 else { return out }
        var index = [Int](repeating: 0, count: t.shape.count)
        var offset = t.offset
        for _ in 0..<count {
            out.append(read(base, offset))
            var d = t.shape.count - 1
            while d >= 0 {
                index[d] += 1
                offset += t.strides[d]
                if index[d] < t.shape[d] { break }
                offset -= index[d] * t.strides[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }
}
