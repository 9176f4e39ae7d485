import HostUtility
import TensorCore

/// Serialises float32 tensors (as F32), index tensors (as I64) and string metadata to a
/// safetensors file that Python `safetensors` and Hugging Face load.
///
/// Layout follows HF: `__metadata__` first, then tensors sorted by name, each entry's data
/// packed back to back in that order; the header is padded with spaces so the data region
/// starts 8-byte aligned. Files are replaced atomically (see `AtomicFile`).
public struct SafeTensorsWriter {
    public var tensors: [String: Tensor]
    public var indexTensors: [String: IndexTensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], indexTensors: [String: IndexTensor] = [:],
                metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.indexTensors = indexTensors
        self.metadata = metadata
    }

    /// Writes the file at `path`, replacing any existing file only once the new one is complete.
    public func write(to path: String) throws {
        let plan = try layout(file: path)
        try AtomicFile.write(to: path) { sink in
            var prefix = [UInt8](repeating: 0, count: 8)
            withUnsafeBytes(of: UInt64(plan.header.count).littleEndian) { prefix = Array($0) }
            try sink.write(prefix)
            try sink.write(plan.header)
            for name in plan.order {
                if let t = tensors[name] {
                    let dense = t.contiguous()
                    try sink.write(UnsafeRawBufferPointer(start: dense.pointer, count: dense.count * 4))
                } else if let ix = indexTensors[name] {
                    let wide = ix.values.map { Int64($0).littleEndian }
                    try wide.withUnsafeBytes { try sink.write($0) }
                }
            }
        }
    }

    /// The padded header bytes and the order tensor data follows in.
    private func layout(file: String) throws -> (header: [UInt8], order: [String]) {
        for name in indexTensors.keys where tensors[name] != nil {
            throw CheckpointError.invalidTensor(file: file, tensor: name, detail: "given both as a float and an index tensor")
        }
        let order = (Array(tensors.keys) + Array(indexTensors.keys)).sorted()
        var entries: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for name in order {
            guard name != "__metadata__", !name.isEmpty else {
                throw CheckpointError.invalidTensor(file: file, tensor: name, detail: "reserved or empty tensor name")
            }
            let (dtype, shape, bytes): (String, [Int], Int)
            if let t = tensors[name] {
                (dtype, shape, bytes) = ("F32", t.shape, t.count * 4)
            } else {
                let ix = indexTensors[name]!
                (dtype, shape, bytes) = ("I64", ix.shape, ix.count * 8)
            }
            let shapeText = shape.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shapeText)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        // Space padding (valid trailing JSON whitespace) keeps 8 + header length a multiple of 8.
        let padding = (8 - header.count % 8) % 8
        header += [UInt8](repeating: UInt8(ascii: " "), count: padding)
        return (header, order)
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped (the named ones
/// `\n` `\r` `\t` only), the rest raw UTF-8.
func jsonString(_ s: String) -> String {
    QuotedLiteral(quote: "\"", namesBackspaceAndFormFeed: false, escapesDelete: false, hexEscape: .unicode).quoted(s)
}
