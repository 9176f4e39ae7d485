import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A dlopen'ed library. Never closed: unloading a Swift plugin unmaps metadata the host may
/// still reference, so libraries are opened with RTLD_NODELETE and live for the process.
struct SharedLibrary {
    let path: String
    private let handle: UnsafeMutableRawPointer

    init(path: String) throws {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDir) else {
            throw PluginError.notSharedObject(path: path, reason: "no such file")
        }
        guard !isDir.boolValue else { throw PluginError.notSharedObject(path: path, reason: "it is a directory") }
        guard let h = dlopen(absolute, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            throw PluginError.notSharedObject(path: path, reason: reason)
        }
        self.path = absolute
        self.handle = h
    }

    func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(handle, name)
    }
}
