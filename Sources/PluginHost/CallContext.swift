import CDPOHostSDK
import DataPipeline
import Foundation

/// A failure inside a host function, turned into a status code and a message for the plugin.
struct HostCallError: Error {
    let status: Int32
    let message: String

    static func invalid(_ m: String) -> HostCallError { HostCallError(status: Int32(DPH_ERR_INVALID_ARGUMENT), message: m) }
    static func notFound(_ m: String) -> HostCallError { HostCallError(status: Int32(DPH_ERR_NOT_FOUND), message: m) }
}

/// C strings the host hands to a plugin with "valid for the instance's life": kept here, freed
/// with the owner.
final class CStringPool {
    private var strings: [String: UnsafeMutablePointer<CChar>] = [:]

    func intern(_ s: String) -> UnsafePointer<CChar> {
        if let p = strings[s] { return UnsafePointer(p) }
        let p = strdup(s)!
        strings[s] = p
        return UnsafePointer(p)
    }

    deinit { for p in strings.values { free(p) } }
}

/// The `dph_ctx` of one plugin call: the arena owning every tensor handle made during the call,
/// the last error, and what the call emits (records, metrics). Lives exactly as long as the call.
final class CallContext {
    let pluginName: String
    /// The instance being called; nil only for `dph_plugin_init`.
    let instance: PluginInstance?
    let arena: TensorArena

    private var lastErrorStorage: UnsafeMutablePointer<CChar>?
    /// What the plugin itself reported through `set_error` (preferred over host messages).
    private(set) var pluginMessage: String?
    var records: [PromptRecord] = []
    var metrics: [(name: String, values: [Float])] = []
    /// Whether `declare_parameter` is allowed (only during a model's configure).
    var declaring = false

    init(pluginName: String, instance: PluginInstance?, arena: TensorArena) {
        self.pluginName = pluginName
        self.instance = instance
        self.arena = arena
    }

    deinit { free(lastErrorStorage) }

    /// Runs `body` and passes the pointer as `dph_ctx *`; the context is kept alive for the call.
    func withPointer<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try withExtendedLifetime(self) { try body(OpaquePointer(Unmanaged.passUnretained(self).toOpaque())) }
    }

    static func from(_ p: OpaquePointer?) -> CallContext? {
        guard let p else { return nil }
        return Unmanaged<CallContext>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }

    var lastErrorPointer: UnsafePointer<CChar>? { lastErrorStorage.map { UnsafePointer($0) } }

    func setLastError(_ message: String) {
        free(lastErrorStorage)
        lastErrorStorage = strdup(message)
    }

    func setPluginError(_ message: String) {
        pluginMessage = message
        setLastError(message)
    }

    /// The error to show for a failed plugin callback: the plugin's message, else the last host
    /// error it ran into, else the bare status.
    func failure(call: String, status: Int32) -> PluginError {
        let message = pluginMessage ?? lastErrorPointer.map { String(cString: $0) }
            ?? "the plugin returned status \(status) without a message"
        return .pluginFailed(plugin: pluginName, call: call, status: status, message: message)
    }

    /// Runs a host function body for the C side: errors become a status code plus message.
    static func run(_ p: OpaquePointer?, _ body: (CallContext) throws -> Void) -> Int32 {
        guard let ctx = from(p) else { return Int32(DPH_ERR_INVALID_ARGUMENT) }
        do {
            try body(ctx)
            return Int32(DPH_OK)
        } catch let e as HostCallError {
            ctx.setLastError(e.message)
            return e.status
        } catch let e as TensorErrorConvertible {
            ctx.setLastError(e.hostMessage)
            return e.hostStatus
        } catch {
            ctx.setLastError("\(error)")
            return Int32(DPH_ERR_INVALID_ARGUMENT)
        }
    }
}

/// Errors from the tensor core, mapped to the ABI's status codes.
protocol TensorErrorConvertible: Error {
    var hostStatus: Int32 { get }
    var hostMessage: String { get }
}

/// Reads a C string argument, refusing NULL with a message naming the argument.
func requireString(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String {
    guard let p else { throw HostCallError.invalid("\(what) is NULL") }
    return String(cString: p)
}

func requireOut<T>(_ p: UnsafeMutablePointer<T>?, _ what: String = "out") throws -> UnsafeMutablePointer<T> {
    guard let p else { throw HostCallError.invalid("\(what) pointer is NULL") }
    return p
}
