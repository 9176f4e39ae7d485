import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only file of JSON lines (metrics.jsonl, samples.jsonl) that never ends in part of a
/// line: each line goes out in one write, synced; a write that fails (a full disk) is cut back off
/// the file before the error, which names the file and the system's reason. Opening drops a
/// partial last line that a kill left; `rewind` keeps only the lines a resumed run has not yet
/// logged again.
public final class JSONLinesFile {
    public let url: URL
    private let fd: Int32

    public init(url: URL) throws {
        self.url = url
        try Self.dropPartialLastLine(url)
        fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError.writeFailed(file: url.path, detail: MappedFile.errnoText()) }
    }

    deinit { close(fd) }

    /// Appends `line` (without its newline) and a newline, all or nothing.
    public func append(_ line: Data) throws {
        var bytes = [UInt8](line)
        bytes.append(0x0A)
        let start = lseek(fd, 0, SEEK_END)
        var written = 0
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = MappedFile.errnoText()
                    return
                }
                written += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = MappedFile.errnoText() }
        if let failure {
            if start >= 0 { _ = ftruncate(fd, start) }
            throw CheckpointError.writeFailed(file: url.path, detail: failure)
        }
    }

    /// Rewrites the file (atomically) with only the complete lines `keep` accepts.
    public static func rewind(_ url: URL, keeping keep: (Data) -> Bool) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else { return }
        let lines = completeLines(data)
        let kept = lines.filter(keep)
        guard kept.count != lines.count || data.last.map({ $0 != 0x0A }) == true else { return }
        try AtomicFile.write(to: url.path) { sink in
            for line in kept { try sink.write([UInt8](line) + [0x0A]) }
        }
    }

    /// The lines of `data` that end with a newline (without it).
    static func completeLines(_ data: Data) -> [Data] {
        var lines: [Data] = []
        var start = data.startIndex
        for i in data.indices where data[i] == 0x0A {
            if i > start { lines.append(data[start..<i]) }
            start = i + 1
        }
        return lines
    }

    static func dropPartialLastLine(_ url: URL) throws {
        var info = stat()
        // Only a regular file has a last line to check (not /dev/null or a pipe).
        guard stat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return }
        guard let data = FileManager.default.contents(atPath: url.path), let last = data.last, last != 0x0A else { return }
        let keep = data.lastIndex(of: 0x0A).map { $0 + 1 - data.startIndex } ?? 0
        guard truncate(url.path, off_t(keep)) == 0 else {
            throw CheckpointError.writeFailed(file: url.path, detail: "cannot cut off its partial last line: \(MappedFile.errnoText())")
        }
    }
}
