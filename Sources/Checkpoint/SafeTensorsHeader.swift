import Foundation

/// Where one tensor lives in a safetensors file and what it holds.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range relative to the start of the data region.
    public let dataOffsets: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// The parsed and fully validated header of a safetensors file.
///
/// Validation runs on the header alone, before any tensor byte is read, so that afterwards
/// every read is known to be in bounds.
struct SafeTensorsHeader {
    /// Headers above this are rejected as hostile or corrupt (the format's own limit).
    static let maxHeaderLength = 100_000_000

    let tensors: [String: SafeTensorInfo]
    let metadata: [String: String]
    /// Absolute file offset of the data region (8 + header length).
    let dataStart: Int

    /// Parses the header at the start of `bytes` (the whole file, `fileSize` bytes long).
    init(bytes: UnsafeRawPointer, fileSize: Int, file: String) throws {
        guard fileSize >= 8 else { throw CheckpointError.truncated(file: file, size: fileSize) }
        let claimed = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard claimed <= UInt64(SafeTensorsHeader.maxHeaderLength) else {
            throw CheckpointError.headerTooLarge(file: file, claimed: claimed, limit: SafeTensorsHeader.maxHeaderLength)
        }
        guard claimed <= UInt64(fileSize - 8) else {
            throw CheckpointError.headerExceedsFile(file: file, claimed: claimed, fileSize: fileSize)
        }
        let headerLength = Int(claimed)
        let headerData = Data(bytes: bytes + 8, count: headerLength)
        guard String(data: headerData, encoding: .utf8) != nil else {
            throw CheckpointError.malformedHeader(file: file, detail: "not valid UTF-8")
        }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: headerData)
        } catch {
            throw CheckpointError.malformedHeader(file: file, detail: "not valid JSON")
        }
        guard case let .object(root) = json else {
            throw CheckpointError.malformedHeader(file: file, detail: "not a JSON object")
        }

        var metadata: [String: String] = [:]
        if let raw = root["__metadata__"] {
            guard case let .object(m) = raw else {
                throw CheckpointError.malformedHeader(file: file, detail: "__metadata__ is not an object")
            }
            for (key, value) in m {
                guard case let .string(s) = value else {
                    throw CheckpointError.malformedHeader(file: file, detail: "__metadata__ value for '\(key)' is not a string")
                }
                metadata[key] = s
            }
        }

        let dataSize = fileSize - 8 - headerLength
        var tensors: [String: SafeTensorInfo] = [:]
        // Sorted so that, with several bad entries, the error reported is always the same one.
        for name in root.keys.sorted() where name != "__metadata__" {
            guard let entry = root[name] else { continue }
            tensors[name] = try SafeTensorsHeader.parseEntry(name: name, entry: entry, dataSize: dataSize, file: file)
        }
        try SafeTensorsHeader.checkNoOverlap(Array(tensors.values), file: file)

        self.tensors = tensors
        self.metadata = metadata
        self.dataStart = 8 + headerLength
    }

    private static func parseEntry(name: String, entry: JSONValue, dataSize: Int, file: String) throws -> SafeTensorInfo {
        func malformed(_ detail: String) -> CheckpointError {
            .malformedEntry(file: file, tensor: name, detail: detail)
        }
        guard case let .object(fields) = entry else { throw malformed("not an object") }
        guard let dtypeValue = fields["dtype"] else { throw malformed("missing dtype") }
        guard let dtypeName = dtypeValue.stringValue else { throw malformed("dtype is not a string") }
        guard let shapeValue = fields["shape"] else { throw malformed("missing shape") }
        guard let offsetsValue = fields["data_offsets"] else { throw malformed("missing data_offsets") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw CheckpointError.unknownDType(file: file, tensor: name, dtype: dtypeName)
        }
        guard let shape = nonNegativeInts(shapeValue) else {
            throw malformed("shape is not an array of non-negative integers")
        }
        guard let offsets = nonNegativeInts(offsetsValue), offsets.count == 2 else {
            throw malformed("data_offsets is not two non-negative integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end, end <= dataSize else {
            throw CheckpointError.offsetsOutOfRange(file: file, tensor: name, begin: begin, end: end, dataSize: dataSize)
        }
        // prod(shape) * size with overflow detection: a hostile shape must not wrap to a small number.
        var expected = dtype.size
        for d in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw CheckpointError.sizeMismatch(file: file, tensor: name, shape: shape, dtype: dtypeName, byteCount: end - begin)
            }
            expected = product
        }
        guard expected == end - begin else {
            throw CheckpointError.sizeMismatch(file: file, tensor: name, shape: shape, dtype: dtypeName, byteCount: end - begin)
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    private static func nonNegativeInts(_ value: JSONValue) -> [Int]? {
        guard case let .array(items) = value else { return nil }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case let .int(i) = item, i >= 0 else { return nil }
            out.append(i)
        }
        return out
    }

    /// Ranges sorted by start must each begin at or after the previous end. Empty tensors own
    /// no bytes and cannot overlap anything. Gaps between ranges are accepted.
    private static func checkNoOverlap(_ infos: [SafeTensorInfo], file: String) throws {
        let sorted = infos.filter { !$0.dataOffsets.isEmpty }
            .sorted { ($0.dataOffsets.lowerBound, $0.name) < ($1.dataOffsets.lowerBound, $1.name) }
        for (previous, next) in zip(sorted, sorted.dropFirst())
        where next.dataOffsets.lowerBound < previous.dataOffsets.upperBound {
            throw CheckpointError.overlappingTensors(file: file, tensor: next.name, other: previous.name)
        }
    }
}
