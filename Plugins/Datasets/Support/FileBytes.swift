import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// A data file's bytes, read in order: as they are, or inflated when the file starts with the
/// gzip magic number. Every gzip member is read (as `gzip -d` does) and anything else after the
/// last one is an error, where zlib's `gzread` would drop it in silence.
final class FileBytes {
    enum Failure: Error {
        /// The OS refused a read (errno's text).
        case io(String)
        /// zlib refused the stream, or it ended early (zlib's message or ours).
        case corrupt(String)
        /// Bytes that are no gzip member follow the last one, at this offset of the file.
        case trailing(offset: Int)
    }

    let path: String
    let isGzip: Bool
    private let file: UnsafeMutablePointer<FILE>
    private var stream = z_stream()
    private let input: UnsafeMutablePointer<UInt8>
    private let inputCapacity = 1 << 18
    private var fileEnded = false
    /// Bytes of the file handed to zlib so far (the offset of `stream.next_in`, plus `avail_in`).
    private var fileOffset = 0
    private var memberEnded = false

    /// Opens `path`; a `.gz` name on a file without the gzip magic number is refused (a file
    /// renamed by mistake would otherwise be read as text).
    init(path: String) throws {
        guard let file = fopen(path, "rb") else {
            throw Failure.io("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.file = file
        input = .allocate(capacity: inputCapacity)
        let first = fread(input, 1, 2, file)
        isGzip = first == 2 && input[0] == 0x1F && input[1] == 0x8B
        // From here on every stored property is set: a throw runs deinit, which closes and frees.
        if first < 2 && ferror(file) != 0 { throw Failure.io("read error: \(String(cString: strerror(errno)))") }
        stream.next_in = input
        stream.avail_in = UInt32(first)
        fileOffset = first
        guard isGzip else {
            if path.hasSuffix(".gz") { throw Failure.corrupt("not a gzip file (it has a .gz name but no gzip header)") }
            return
        }
        // 15 + 16: the largest window, gzip framing only.
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure.io("zlib could not start (out of memory)")
        }
    }

    deinit {
        if isGzip { inflateEnd(&stream) } // harmless on a stream that never started
        fclose(file)
        input.deallocate()
    }

    /// Fills up to `count` bytes at `buffer`; 0 at the end of the data.
    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        isGzip ? try inflated(into: buffer, count: count) : try plain(into: buffer, count: count)
    }

    private func plain(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        // The two bytes read to look for the magic number come first.
        if stream.avail_in > 0 {
            let n = min(Int(stream.avail_in), count)
            buffer.update(from: stream.next_in, count: n)
            stream.next_in += n
            stream.avail_in -= UInt32(n)
            return n
        }
        let n = fread(buffer, 1, count, file)
        if n == 0 && ferror(file) != 0 { throw Failure.io("read error: \(String(cString: strerror(errno)))") }
        return n
    }

    /// More of the file for zlib; false at its end.
    private func refill() throws -> Bool {
        guard !fileEnded else { return false }
        let n = fread(input, 1, inputCapacity, file)
        if n == 0 {
            if ferror(file) != 0 { throw Failure.io("read error: \(String(cString: strerror(errno)))") }
            fileEnded = true
            return false
        }
        stream.next_in = input
        stream.avail_in = UInt32(n)
        fileOffset += n
        return true
    }

    private func inflated(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        while true {
            if try stream.avail_in == 0 && !refill() {
                if memberEnded { return 0 }
                throw Failure.corrupt("unexpected end of file")
            }
            if memberEnded {
                // Another member, or the end: gzip's magic number's first byte or an error.
                guard stream.next_in[0] == 0x1F else { throw Failure.trailing(offset: fileOffset - Int(stream.avail_in)) }
                inflateReset(&stream)
                memberEnded = false
            }
            stream.next_out = buffer
            stream.avail_out = UInt32(min(count, Int(UInt32.max)))
            let status = inflate(&stream, Z_NO_FLUSH)
            let produced = min(count, Int(UInt32.max)) - Int(stream.avail_out)
            switch status {
            case Z_STREAM_END: memberEnded = true
            case Z_OK, Z_BUF_ERROR: break
            default:
                throw Failure.corrupt(stream.msg.map { String(cString: $0) } ?? "zlib status \(status)")
            }
            if produced > 0 { return produced }
        }
    }
}
