#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped into memory; unmapped when the last reference goes away.
///
/// The file is opened read-only and mapped MAP_PRIVATE with write permission: tensors viewing
/// the mapping may be updated in place (e.g. by an optimizer) and those writes stay private
/// copy-on-write pages, never reaching the file, instead of faulting on a read-only page.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer
    let size: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CheckpointError.cannotOpen(file: path, reason: MappedFile.errnoText()) }
        defer { close(fd) }  // the mapping keeps its own reference to the file
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CheckpointError.cannotOpen(file: path, reason: MappedFile.errnoText()) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.cannotOpen(file: path, reason: "not a regular file")
        }
        let size = Int(st.st_size)
        // Checked here because mmap rejects empty files and a short file has no header to map.
        guard size >= 8 else { throw CheckpointError.truncated(file: path, size: size) }
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw CheckpointError.cannotOpen(file: path, reason: "mmap: \(MappedFile.errnoText())")
        }
        self.base = UnsafeRawPointer(p)
        self.size = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
