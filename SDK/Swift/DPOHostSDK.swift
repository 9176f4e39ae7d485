@_exported import CDPOHostSDK
#if canImport(Glibc)
import Glibc
#endif

/// A failed host call (or a plugin's own failure), carrying the status and its message.
public struct DPHError: Error, CustomStringConvertible {
    public let status: dph_status
    public let message: String

    public init(_ status: Int32, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }
}

/// The host table bound to one call's context: the same C functions, throwing instead of
/// returning status codes. A value type over two pointers; it holds no state of its own.
public struct Host {
    public let api: UnsafePointer<dph_host_api>
    public let ctx: OpaquePointer

    public init(_ api: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?) {
        self.api = api!
        self.ctx = ctx!
    }

    /// Throws the host's last error when `status` is not `DPH_OK`: the one status check of this
    /// layer (every file of it calls this and `make`).
    func check(_ status: dph_status) throws {
        guard status == Int32(DPH_OK) else {
            throw DPHError(status, api.pointee.last_error(ctx).map { String(cString: $0) } ?? "status \(status)")
        }
    }

    /// The tensor handle a host function writes to its out-parameter, its status checked.
    func make(_ body: (UnsafeMutablePointer<dph_tensor>) -> dph_status) throws -> dph_tensor {
        var out: dph_tensor = 0
        try check(body(&out))
        return out
    }

    // MARK: options and logging

    public func optionFloat(_ name: String) throws -> Double {
        var v = 0.0
        try check(api.pointee.option_float(ctx, name, &v))
        return v
    }

    public func optionInt(_ name: String) throws -> Int64 {
        var v: Int64 = 0
        try check(api.pointee.option_int(ctx, name, &v))
        return v
    }

    public func optionBool(_ name: String) throws -> Bool {
        var v: Int32 = 0
        try check(api.pointee.option_bool(ctx, name, &v))
        return v != 0
    }

    public func optionString(_ name: String) throws -> String {
        var v: UnsafePointer<CChar>?
        try check(api.pointee.option_string(ctx, name, &v))
        return String(cString: v!)
    }

    public func log(_ message: String, level: dph_log_level = DPH_LOG_INFO) {
        api.pointee.log(ctx, level, message)
    }

    // MARK: tensors

    public func tensor(_ values: [Float], shape: [Int], requiresGrad: Bool = false) throws -> dph_tensor {
        let dims = shape.map(Int64.init)
        return try make { out in api.pointee.tensor_from_floats(ctx, values, dims, Int32(dims.count), requiresGrad ? 1 : 0, out) }
    }

    public func scalar(_ value: Float) throws -> dph_tensor { try tensor([value], shape: []) }

    public func shape(_ t: dph_tensor) throws -> [Int] {
        var rank: Int32 = 0
        try check(api.pointee.tensor_rank(ctx, t, &rank))
        var dims = [Int64](repeating: 0, count: Int(rank))
        try check(api.pointee.tensor_shape(ctx, t, &dims, rank))
        return dims.map(Int.init)
    }

    public func floats(_ t: dph_tensor) throws -> [Float] {
        let n = try shape(t).reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        try check(api.pointee.tensor_read_floats(ctx, t, &values, Int64(n)))
        return values
    }

    // MARK: ops (recorded on the host's tape)

    public func unary(_ op: dph_unary_op, _ x: dph_tensor) throws -> dph_tensor {
        try make { api.pointee.unary(ctx, op, x, $0) }
    }

    public func binary(_ op: dph_binary_op, _ a: dph_tensor, _ b: dph_tensor) throws -> dph_tensor {
        try make { api.pointee.binary(ctx, op, a, b, $0) }
    }

    public func add(_ a: dph_tensor, _ b: dph_tensor) throws -> dph_tensor { try binary(DPH_BINARY_ADD, a, b) }
    public func sub(_ a: dph_tensor, _ b: dph_tensor) throws -> dph_tensor { try binary(DPH_BINARY_SUB, a, b) }
    public func mul(_ a: dph_tensor, _ b: dph_tensor) throws -> dph_tensor { try binary(DPH_BINARY_MUL, a, b) }
    public func div(_ a: dph_tensor, _ b: dph_tensor) throws -> dph_tensor { try binary(DPH_BINARY_DIV, a, b) }
    public func sigmoid(_ x: dph_tensor) throws -> dph_tensor { try unary(DPH_UNARY_SIGMOID, x) }
    public func logSigmoid(_ x: dph_tensor) throws -> dph_tensor { try unary(DPH_UNARY_LOG_SIGMOID, x) }

    public func scale(_ x: dph_tensor, _ s: Float) throws -> dph_tensor {
        try make { api.pointee.scale(ctx, x, s, $0) }
    }

    public func addScalar(_ x: dph_tensor, _ s: Float) throws -> dph_tensor {
        try make { api.pointee.add_scalar(ctx, x, s, $0) }
    }

    /// Mean over every axis (`axis == nil`) or one axis.
    public func mean(_ x: dph_tensor, axis: Int32? = nil, keepDims: Bool = false) throws -> dph_tensor {
        try make { api.pointee.mean(ctx, x, axis ?? Int32(DPH_AXIS_ALL), keepDims ? 1 : 0, $0) }
    }

    public func sum(_ x: dph_tensor, axis: Int32? = nil, keepDims: Bool = false) throws -> dph_tensor {
        try make { api.pointee.sum(ctx, x, axis ?? Int32(DPH_AXIS_ALL), keepDims ? 1 : 0, $0) }
    }

    public func detach(_ x: dph_tensor) throws -> dph_tensor {
        try make { api.pointee.detach(ctx, x, $0) }
    }

    public func emitMetric(_ name: String, _ values: dph_tensor) throws {
        try check(api.pointee.emit_metric(ctx, name, values))
    }

    /// Runs a plugin callback body: a thrown error is reported to the host with its message.
    public func run(_ body: (Host) throws -> Void) -> dph_status {
        do {
            try body(self)
            return Int32(DPH_OK)
        } catch let e as DPHError {
            return api.pointee.set_error(ctx, e.status, e.message)
        } catch {
            return api.pointee.set_error(ctx, Int32(DPH_ERR_PLUGIN), "\(error)")
        }
    }
}

/// The C types of a plugin's `dph_plugin_init` export, so each plugin's signature fits on one
/// line (`LossExport`, `DatasetExport` and `ModelExport` take the descriptor as `DPHPluginDesc?`).
public typealias DPHHostAPI = UnsafePointer<dph_host_api>
public typealias DPHPluginDesc = UnsafeMutablePointer<dph_plugin_desc>

/// Builds the `dph_plugin_desc` of a Swift plugin. The C strings and arrays it allocates live
/// as long as the library (which the host never unloads), as the ABI requires.
public enum PluginDescription {
    public struct Option: Sendable {
        public let name: String, type: dph_option_type, defaultValue: String?, help: String
        public init(_ name: String, _ type: dph_option_type, default defaultValue: String?, help: String) {
            self.name = name
            self.type = type
            self.defaultValue = defaultValue
            self.help = help
        }
    }

    public static func fill(_ desc: UnsafeMutablePointer<dph_plugin_desc>?, kind: dph_plugin_kind, name: String,
                            version: String, summary: String, options: [Option]) {
        guard let desc else { return }
        desc.pointee.struct_size = UInt32(MemoryLayout<dph_plugin_desc>.size)
        desc.pointee.abi_version = UInt32(DPH_ABI_VERSION)
        desc.pointee.kind = kind
        desc.pointee.name = UnsafePointer(strdup(name))
        desc.pointee.version = UnsafePointer(strdup(version))
        desc.pointee.description = UnsafePointer(strdup(summary))
        let specs = UnsafeMutablePointer<dph_option_spec>.allocate(capacity: max(options.count, 1))
        for (i, o) in options.enumerated() {
            var s = dph_option_spec()
            s.struct_size = UInt32(MemoryLayout<dph_option_spec>.size)
            s.name = UnsafePointer(strdup(o.name))
            s.type = o.type
            s.default_value = o.defaultValue.map { UnsafePointer(strdup($0)!) }
            s.help = UnsafePointer(strdup(o.help))
            (specs + i).initialize(to: s)
        }
        desc.pointee.options = UnsafePointer(specs)
        desc.pointee.n_options = Int32(options.count)
    }

    /// A loss vtable that lives as long as the library. `instanceNeeds`, when given, says what
    /// one instance reads given its options (plugin.h, `instance_needs`).
    public static func lossVTable(needs: UInt32, instanceNeeds: dph_loss_vtable_instance_needs? = nil,
                                  compute: dph_loss_vtable_compute) -> UnsafePointer<dph_loss_vtable> {
        let v = UnsafeMutablePointer<dph_loss_vtable>.allocate(capacity: 1)
        var t = dph_loss_vtable()
        t.struct_size = UInt32(MemoryLayout<dph_loss_vtable>.size)
        t.needs = needs
        t.compute = compute
        t.instance_needs = instanceNeeds
        v.initialize(to: t)
        return UnsafePointer(v)
    }
}

/// The C type of a loss plugin's instance_needs callback.
public typealias dph_loss_vtable_instance_needs = @convention(c) (
    UnsafePointer<dph_host_api>?, OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt32>?) -> dph_status

/// The C type of a loss plugin's compute callback.
public typealias dph_loss_vtable_compute = @convention(c) (
    UnsafePointer<dph_host_api>?, OpaquePointer?, UnsafeMutableRawPointer?,
    UnsafePointer<dph_loss_inputs>?, UnsafeMutablePointer<dph_tensor>?) -> dph_status
