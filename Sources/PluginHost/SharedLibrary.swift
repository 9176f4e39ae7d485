import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A dlopen'ed library. Never closed: unloading a Swift plugin unmaps metadata the host may
/// still reference, so libraries are opened with RTLD_NODELETE and live for the process.
struct SharedLibrary {
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// `check`, when given, sees the opened file before anything of it runs; its error refuses it.
    init(path: String, check: ((Int32) throws -> Void)? = nil) throws {
        let absolute = Self.absolutePath(path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDir) else {
            throw PluginError.notSharedObject(path: path, reason: "no such file")
        }
        guard !isDir.boolValue else { throw PluginError.notSharedObject(path: path, reason: "it is a directory") }
        var loaded = absolute
        var descriptor: Int32 = -1, keepDescriptor = false
        defer { if descriptor >= 0 && !keepDescriptor { close(descriptor) } }
        if let check {
            // The file is opened once, checked through that descriptor and loaded through it
            // (/proc/self/fd), so a file put in its place after the check is never the one run.
            // A loaded library keeps its descriptor, as it keeps its mapping: the loader knows a
            // library by that name, which must never come back for another file.
            descriptor = open(absolute, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard descriptor >= 0 else {
                let reason = errno == ELOOP ? "it is a symbolic link" : String(cString: strerror(errno))
                throw PluginError.notSharedObject(path: path, reason: reason)
            }
            try check(descriptor)
            loaded = "/proc/self/fd/\(descriptor)"
        }
        guard let h = dlopen(loaded, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            var reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            reason = reason.replacingOccurrences(of: loaded, with: absolute)
            throw PluginError.notSharedObject(path: path, reason: reason)
        }
        keepDescriptor = true
        self.path = absolute
        self.handle = h
    }

    /// The path a library is known by once loaded (`LoadedPlugin.path`).
    static func absolutePath(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(handle, name)
    }
}
