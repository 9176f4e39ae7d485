import TensorCore

#if _endian(big)
#error("safetensors data is little-endian; the readers here load it as host-order values")
#endif

/// A memory-mapped safetensors file whose header has been validated.
///
/// Opening parses and checks the whole header (sizes, offsets, overlap) before any tensor
/// data is touched; tensor reads afterwards are then always in bounds. Nothing in the file is
/// ever executed: the format is a JSON header and raw little-endian arrays.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    private let mapping: MappedFile
    private let header: SafeTensorsHeader

    public init(path: String) throws {
        self.path = path
        self.mapping = try MappedFile(path: path)
        self.header = try SafeTensorsHeader(bytes: mapping.base, fileSize: mapping.size, file: path)
    }

    /// Tensor names, sorted.
    public var tensorNames: [String] { header.tensors.keys.sorted() }

    /// The `__metadata__` string map (empty when absent).
    public var metadata: [String: String] { header.metadata }

    public func contains(_ name: String) -> Bool { header.tensors[name] != nil }

    public func info(named name: String) throws -> SafeTensorInfo {
        guard let info = header.tensors[name] else {
            throw CheckpointError.tensorNotFound(file: path, tensor: name)
        }
        return info
    }

    public func dtype(of name: String) throws -> SafeTensorsDType { try info(named: name).dtype }

    public func shape(of name: String) throws -> [Int] { try info(named: name).shape }

    /// The tensor as float32. F32 data that is 4-byte aligned in the mapping is returned as a
    /// zero-copy view (it keeps the mapping alive; in-place writes stay private to this process).
    /// F16, BF16 and F64 are converted into a fresh tensor. Call `.copy()` on the result when
    /// 64-byte aligned owned storage is needed.
    public func floatTensor(named name: String) throws -> Tensor {
        let info = try info(named: name)
        let src = dataPointer(info)
        let n = info.elementCount
        switch info.dtype {
        case .f32:
            if Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 {
                let floats = UnsafeMutablePointer(mutating: src.assumingMemoryBound(to: Float.self))
                let mapping = self.mapping
                let storage = TensorStorage(borrowing: floats, count: n, release: { withExtendedLifetime(mapping) {} }, fileMapped: true)
                return Tensor(storage: storage, shape: info.shape)
            }
            return convert(info) { src.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        case .f16:
            return convert(info) { HalfConversion.float(fromHalf: src.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
        case .bf16:
            return convert(info) { HalfConversion.float(fromBFloat16: src.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
        case .f64:
            return convert(info) { Float(src.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self)) }
        default:
            throw CheckpointError.unsupportedConversion(file: path, tensor: name, dtype: info.dtype.rawValue, target: "float32")
        }
    }

    /// The tensor as Int32 indices. I64 values outside the Int32 range are an error, never truncated.
    public func indexTensor(named name: String) throws -> IndexTensor {
        let info = try info(named: name)
        let src = dataPointer(info)
        let n = info.elementCount
        var values = [Int32](repeating: 0, count: n)
        switch info.dtype {
        case .i32:
            for i in 0..<n { values[i] = src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self) }
        case .i64:
            for i in 0..<n {
                let v = src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)
                guard let narrowed = Int32(exactly: v) else {
                    throw CheckpointError.valueOutOfRange(file: path, tensor: name,
                                                          detail: "element \(i) = \(v) does not fit in Int32")
                }
                values[i] = narrowed
            }
        default:
            throw CheckpointError.unsupportedConversion(file: path, tensor: name, dtype: info.dtype.rawValue, target: "Int32 indices")
        }
        return try IndexTensor(shape: info.shape, values: values)
    }

    private func dataPointer(_ info: SafeTensorInfo) -> UnsafeRawPointer {
        mapping.base + header.dataStart + info.dataOffsets.lowerBound
    }

    private func convert(_ info: SafeTensorInfo, _ element: (Int) -> Float) -> Tensor {
        let out = Tensor(zeros: info.shape)
        let dst = out.pointer
        for i in 0..<info.elementCount { dst[i] = element(i) }
        return out
    }
}
