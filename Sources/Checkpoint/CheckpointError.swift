import HostUtility

/// Everything that can go wrong reading or writing a checkpoint.
///
/// Every case carries the file (or directory) it is about, and the tensor or key where one is
/// involved, so a message alone is enough to find the broken input: `<file>: <problem>`
/// (`FileError`).
public enum CheckpointError: FileError, Equatable {
    /// The file could not be opened, stat'ed or mapped.
    case cannotOpen(file: String, reason: String)
    /// Shorter than the 8-byte header length prefix.
    case truncated(file: String, size: Int)
    /// The header length prefix claims more than the sanity limit.
    case headerTooLarge(file: String, claimed: UInt64, limit: Int)
    /// The header length prefix claims more bytes than the file has after the prefix.
    case headerExceedsFile(file: String, claimed: UInt64, fileSize: Int)
    /// The header is not a UTF-8 JSON object, or `__metadata__` is not string -> string.
    case malformedHeader(file: String, detail: String)
    /// A tensor entry lacks dtype/shape/data_offsets or has values of the wrong kind.
    case malformedEntry(file: String, tensor: String, detail: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    /// `end - begin` differs from `prod(shape) * dtype size`.
    case sizeMismatch(file: String, tensor: String, shape: [Int], dtype: String, byteCount: Int)
    /// `data_offsets` reach outside the data region.
    case offsetsOutOfRange(file: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// Two tensors claim some of the same bytes.
    case overlappingTensors(file: String, tensor: String, other: String)
    case tensorNotFound(file: String, tensor: String)
    /// The stored dtype cannot be read as the requested kind (e.g. I64 as float).
    case unsupportedConversion(file: String, tensor: String, dtype: String, target: String)
    /// An integer value that does not fit the target type (I64 -> Int32).
    case valueOutOfRange(file: String, tensor: String, detail: String)
    /// A sharded index lists a tensor its shard does not hold.
    case shardMissingTensor(index: String, shard: String, tensor: String)
    /// The index itself is unusable (bad weight_map, shard path escaping the directory).
    case malformedIndex(file: String, detail: String)
    case missingDirectory(path: String)
    /// A zip (PyTorch checkpoint) whose structure is damaged.
    case malformedArchive(file: String, detail: String)
    /// A pickle that asks for something a weights-only load does not allow; nothing was run.
    case refusedPickle(file: String, detail: String)
    case noWeights(directory: String)
    /// A JSON side file (config.json, index) that is missing or not valid JSON.
    case invalidJSON(file: String, detail: String)
    /// Writing failed; the target is left as it was.
    case writeFailed(file: String, detail: String)
    /// The writer was handed something it cannot store under that name.
    case invalidTensor(file: String, tensor: String, detail: String)

    public var fault: (file: String, problem: String) {
        switch self {
        case let .cannotOpen(file, reason):
            return (file, "cannot open: \(reason)")
        case let .truncated(file, size):
            return (file, "truncated: \(size) bytes, a safetensors file needs at least 8")
        case let .headerTooLarge(file, claimed, limit):
            return (file, "header length \(claimed) bytes exceeds the \(limit)-byte limit")
        case let .headerExceedsFile(file, claimed, fileSize):
            return (file, "header length \(claimed) bytes is larger than the file (\(fileSize) bytes)")
        case let .malformedHeader(file, detail):
            return (file, "malformed header: \(detail)")
        case let .malformedEntry(file, tensor, detail):
            return (file, "tensor '\(tensor)': malformed entry: \(detail)")
        case let .unknownDType(file, tensor, dtype):
            return (file, "tensor '\(tensor)': unknown dtype '\(dtype)'")
        case let .sizeMismatch(file, tensor, shape, dtype, byteCount):
            return (file, "tensor '\(tensor)': shape \(shape) of \(dtype) does not fit its \(byteCount) data bytes")
        case let .offsetsOutOfRange(file, tensor, begin, end, dataSize):
            return (file, "tensor '\(tensor)': data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data region")
        case let .overlappingTensors(file, tensor, other):
            return (file, "tensor '\(tensor)': data overlaps tensor '\(other)'")
        case let .tensorNotFound(file, tensor):
            return (file, "no tensor named '\(tensor)'")
        case let .unsupportedConversion(file, tensor, dtype, target):
            return (file, "tensor '\(tensor)': dtype \(dtype) cannot be read as \(target)")
        case let .valueOutOfRange(file, tensor, detail):
            return (file, "tensor '\(tensor)': \(detail)")
        case let .shardMissingTensor(index, shard, tensor):
            return (index, "tensor '\(tensor)' is mapped to shard \(shard), which does not contain it")
        case let .malformedIndex(file, detail):
            return (file, "malformed index: \(detail)")
        case let .missingDirectory(path):
            return (path, "model directory does not exist or is not a directory")
        case let .malformedArchive(file, detail):
            return (file, "not a readable PyTorch checkpoint: \(detail)")
        case let .refusedPickle(file, detail):
            return (file, "refused: \(detail); only tensors, storages, dicts, lists, tuples, strings and numbers are read (as torch.load(weights_only=True)), and nothing in the file was run")
        case let .noWeights(directory):
            return (directory, "no weights found (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin)")
        case let .invalidJSON(file, detail):
            return (file, detail)
        case let .writeFailed(file, detail):
            return (file, "write failed, target left unchanged: \(detail)")
        case let .invalidTensor(file, tensor, detail):
            return (file, "tensor '\(tensor)': \(detail)")
        }
    }
}
