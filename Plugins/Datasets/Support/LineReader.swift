import DPOHostSDK
#if canImport(Glibc)
import Glibc
#endif

/// One line of a text file: its bytes without the newline (valid UTF-8, checked), its 1-based
/// number and the offset of its first byte in the (uncompressed) file.
public struct TextLine {
    public let bytes: UnsafeBufferPointer<UInt8>
    public let number: Int
    public let fileOffset: Int

    /// True for lines holding only spaces, tabs or a carriage return (skipped by the readers).
    public var isBlank: Bool { bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
}

/// Reads plain or gzip-compressed text line by line (`FileBytes`), so a dataset is never
/// half-read in silence: a truncated or corrupt gzip stream, bytes after it, a read error and
/// invalid UTF-8 are errors naming the file and line.
public enum LineReader {
    /// Calls `body` for every line of `path` in order; `line.bytes` is valid during the call only.
    /// A line longer than `maximumLineBytes` is an error naming the file, the line and the
    /// option that sets the cap (`LineLimit`), so a file without line ends (`/dev/zero`) cannot
    /// take the machine's memory.
    public static func forEachLine(path: String, maximumLineBytes: Int = LineLimit.defaultBytes,
                                   _ body: (TextLine) throws -> Void) throws {
        let source: FileBytes
        do { source = try FileBytes(path: path) } catch { throw failure(error, path: path, line: 1) }
        func tooLong(_ line: Int) -> DPHError {
            DPHError(Int32(DPH_ERR_FORMAT), "\(path):\(line): a line longer than \(maximumLineBytes) bytes "
                + "(the \(LineLimit.optionName) option of the dataset raises the cap)")
        }

        var capacity = 1 << 20
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var start = 0, end = 0, scanned = 0 // pending bytes are start..<end; no newline in start..<scanned
        var lineNumber = 0, fileOffset = 0

        func emit(_ length: Int) throws {
            lineNumber += 1
            if length > maximumLineBytes { throw tooLong(lineNumber) }
            let line = TextLine(bytes: UnsafeBufferPointer(start: buffer + start, count: length),
                                number: lineNumber, fileOffset: fileOffset)
            if let bad = UTF8Check.firstInvalidByte(line.bytes) {
                let byte = String(line.bytes[bad], radix: 16, uppercase: true)
                throw DPHError(Int32(DPH_ERR_FORMAT),
                               "\(path):\(lineNumber): invalid UTF-8: byte 0x\(byte) at byte offset \(fileOffset + bad) "
                                   + "of the file (column \(bad + 1) of the line)")
            }
            try body(line)
        }

        while true {
            while scanned < end, let hit = memchr(buffer + scanned, 0x0A, end - scanned) {
                let newline = buffer.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                try emit(newline - start)
                fileOffset += newline + 1 - start
                start = newline + 1
                scanned = start
            }
            scanned = end
            // Keep the unfinished line at the front; grow when one line fills the buffer.
            if start > 0 {
                buffer.update(from: buffer + start, count: end - start)
                end -= start
                scanned -= start
                start = 0
            }
            if end - start > maximumLineBytes { throw tooLong(lineNumber + 1) }
            if end == capacity {
                let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                grown.update(from: buffer, count: end)
                buffer.deallocate()
                buffer = grown
                capacity *= 2
            }
            let n: Int
            do { n = try source.read(into: buffer + end, count: capacity - end) } catch {
                throw failure(error, path: path, line: lineNumber + 1)
            }
            if n == 0 { break }
            end += n
        }
        if end > start { try emit(end - start) }
    }

    /// A read failure as the error naming the file and the line it broke in.
    private static func failure(_ error: Error, path: String, line: Int) -> DPHError {
        switch error as? FileBytes.Failure {
        case let .io(message)?:
            return DPHError(Int32(DPH_ERR_IO), message.hasPrefix("cannot open") ? message : "\(path):\(line): \(message)")
        case let .corrupt(message)? where message.hasPrefix("not a gzip file"):
            return DPHError(Int32(DPH_ERR_FORMAT), "\(path): \(message)")
        case let .corrupt(message)?:
            return DPHError(Int32(DPH_ERR_FORMAT),
                            "\(path):\(line): corrupt or truncated gzip stream (zlib: \(message)); the file was not fully read")
        case let .trailing(offset)?:
            return DPHError(Int32(DPH_ERR_FORMAT),
                            "\(path): bytes that are not gzip data follow the compressed stream, from byte \(offset) of the file "
                                + "(a damaged or appended file; gzip -d reports the same)")
        case nil:
            return DPHError(Int32(DPH_ERR_IO), "\(path):\(line): \(error)")
        }
    }
}

/// The cap on one line of a dataset file: the `max_line_bytes` option every built-in dataset
/// plugin declares (64 MiB by default: far past any record of the published datasets).
public enum LineLimit {
    public static let optionName = "max_line_bytes"
    public static let defaultBytes = 64 << 20

    public static var option: PluginDescription.Option {
        .init(optionName, DPH_OPTION_INT, default: String(defaultBytes),
              help: "longest line a data file may have, in bytes (a longer one is an error naming the file and line)")
    }

    /// The dataset's cap, at least 1.
    public static func read(_ host: Host) throws -> Int {
        let value = try host.optionInt(optionName)
        guard value >= 1 else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "\(optionName) must be at least 1, got \(value)")
        }
        return Int(value)
    }
}

/// UTF-8 validation by the Unicode table (no overlong forms, surrogates or values past U+10FFFF).
public enum UTF8Check {
    /// The index of the lead byte of the first invalid sequence, nil when all of `bytes` is valid.
    public static func firstInvalidByte(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        let n = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        while i < n {
            // ASCII fast path, eight bytes at a time.
            while i + 8 <= n, UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
            guard i < n else { break }
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            let length: Int, low: UInt8, high: UInt8 // range of the second byte
            switch b {
            case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
            case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (length, low, high) = (3, 0x80, 0xBF)
            case 0xED: (length, low, high) = (3, 0x80, 0x9F)
            case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
            case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
            case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
            default: return i
            }
            guard i + length <= n, (low...high).contains(bytes[i + 1]) else { return i }
            for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return nil
    }
}
