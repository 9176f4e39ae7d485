import Foundation

/// A TFRecord file, the framing of TensorBoard's event files: each record is its length (8 bytes,
/// little-endian), the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of the
/// data. Records are appended whole and synced, so a reader never sees part of one that a kill
/// or a full disk cut short (`JSONLinesFile` does the same for text).
final class TFRecordFile {
    let url: URL
    private let handle: FileHandle

    /// Creates `url` (empty) or opens it for appending.
    init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
            }
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    func append(_ data: [UInt8]) throws {
        try handle.write(contentsOf: Self.frame(data))
        try handle.synchronize()
    }

    static func frame(_ data: [UInt8]) -> Data {
        var out = Data(capacity: data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
        out.append(contentsOf: length)
        out.append(contentsOf: withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { Array($0) })
        out.append(contentsOf: data)
        out.append(contentsOf: withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { Array($0) })
        return out
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), masked as TFRecord stores it.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func checksum(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's mask: rotate right by 15 and add a constant, so CRCs of CRCs stay distinct.
    static func masked(_ data: [UInt8]) -> UInt32 {
        let crc = checksum(data)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
