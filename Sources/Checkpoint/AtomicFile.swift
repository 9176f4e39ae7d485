import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Replaces a file all at once: readers see either the old file or the complete new one.
///
/// Bytes go to a temporary file in the target's directory (same filesystem, so rename is
/// atomic), which is fsync'ed and then renamed over the target. If anything fails, including
/// the caller's `body`, the temporary file is removed and the target is untouched.
public enum AtomicFile {
    /// Sequential sink handed to the body of `write(to:_:)`.
    public final class Sink {
        fileprivate let fd: Int32
        public private(set) var bytesWritten = 0

        fileprivate init(fd: Int32) { self.fd = fd }

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard var p = bytes.baseAddress else { return }
            var remaining = bytes.count
            while remaining > 0 {
                let n = posixWrite(fd, p, remaining)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SinkError.errno(MappedFile.errnoText())
                }
                p += n
                remaining -= n
                bytesWritten += n
            }
        }

        public func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }
    }

    fileprivate enum SinkError: Error { case errno(String) }

    public static func write(to path: String, _ body: (Sink) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let tempPath = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString)").path
        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError.writeFailed(file: path, detail: "cannot create temporary file in \(directory): \(MappedFile.errnoText())")
        }
        var committed = false
        var closed = false
        defer {
            if !closed { close(fd) }
            if !committed { unlink(tempPath) }
        }
        do {
            try body(Sink(fd: fd))
        } catch let SinkError.errno(text) {
            throw CheckpointError.writeFailed(file: path, detail: text)
        }
        guard fsync(fd) == 0 else {
            throw CheckpointError.writeFailed(file: path, detail: "fsync: \(MappedFile.errnoText())")
        }
        closed = true
        guard close(fd) == 0 else {
            throw CheckpointError.writeFailed(file: path, detail: "close: \(MappedFile.errnoText())")
        }
        guard rename(tempPath, path) == 0 else {
            throw CheckpointError.writeFailed(file: path, detail: "rename: \(MappedFile.errnoText())")
        }
        committed = true
        // Persist the directory entry too, so the rename itself survives a crash.
        let dirFD = open(directory, O_RDONLY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }
}

/// `write(2)`, named apart from `Sink.write` so the call inside it is unambiguous.
@inline(__always)
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
