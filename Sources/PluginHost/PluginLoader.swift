import Autograd
import CDPOHostSDK
import Foundation

/// A plugin whose library is loaded, ABI checked and descriptor validated.
public final class LoadedPlugin: @unchecked Sendable {
    /// Absolute path of the shared object.
    public let path: String
    public let descriptor: PluginDescriptor

    init(path: String, descriptor: PluginDescriptor) {
        self.path = path
        self.descriptor = descriptor
    }

    public var name: String { descriptor.name }
    public var kind: PluginKind { descriptor.kind }
}

/// Turns a path into a `LoadedPlugin`, in the order that keeps a bad file from running code:
/// dlopen, read the ABI version (a function that only returns a constant), check it, and only
/// then call the entry point and validate what it wrote.
public enum PluginLoader {
    /// `check` sees the opened file (its descriptor) before it is loaded; see `SharedLibrary`.
    public static func load(path: String, check: ((Int32) throws -> Void)? = nil) throws -> LoadedPlugin {
        let lib = try SharedLibrary(path: path, check: check)
        guard let versionSym = lib.symbol(PluginABI.versionSymbol) else {
            throw PluginError.missingEntryPoint(path: path, symbol: PluginABI.versionSymbol)
        }
        let abiVersion = unsafeBitCast(versionSym, to: dph_plugin_abi_version_fn.self)()
        guard PluginABI.supported.contains(abiVersion) else {
            throw PluginError.abiMismatch(path: path, found: abiVersion, supported: PluginABI.supported)
        }
        guard let initSym = lib.symbol(PluginABI.entryPoint) else {
            throw PluginError.missingEntryPoint(path: path, symbol: PluginABI.entryPoint)
        }
        let initialize = unsafeBitCast(initSym, to: dph_plugin_init_fn.self)

        var desc = dph_plugin_desc()
        desc.struct_size = UInt32(MemoryLayout<dph_plugin_desc>.size)
        let fileName = URL(fileURLWithPath: path).lastPathComponent
        let ctx = CallContext(pluginName: fileName, instance: nil,
                              arena: TensorArena(tape: Tape(pool: .serial, recording: false)))
        let status = ctx.withPointer { initialize(HostAPI.table, $0, &desc) }
        guard status == Int32(DPH_OK) else { throw ctx.failure(call: PluginABI.entryPoint, status: status) }
        let descriptor = try DescriptorValidator.validate(desc, path: path, fileABI: abiVersion)
        return LoadedPlugin(path: lib.path, descriptor: descriptor)
    }
}
