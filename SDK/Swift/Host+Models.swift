import CDPOHostSDK
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Wrappers model plugins use: config lookups, parameters, the key/value cache and the ops of a
// transformer block. Like the rest of this layer they hold no state.
extension Host {
    // MARK: config.json

    /// nil when the key is absent or null (the caller applies the Hugging Face default).
    public func configInt(_ key: String) throws -> Int? {
        var v: Int64 = 0
        let s = api.pointee.config_int(ctx, key, &v)
        if s == Int32(DPH_ERR_NOT_FOUND) { return nil }
        try check(s)
        return Int(v)
    }

    public func configFloat(_ key: String) throws -> Double? {
        var v = 0.0
        let s = api.pointee.config_float(ctx, key, &v)
        if s == Int32(DPH_ERR_NOT_FOUND) { return nil }
        try check(s)
        return v
    }

    public func configBool(_ key: String) throws -> Bool? {
        var v: Int32 = 0
        let s = api.pointee.config_bool(ctx, key, &v)
        if s == Int32(DPH_ERR_NOT_FOUND) { return nil }
        try check(s)
        return v != 0
    }

    public func configString(_ key: String) throws -> String? {
        var v: UnsafePointer<CChar>?
        let s = api.pointee.config_string(ctx, key, &v)
        if s == Int32(DPH_ERR_NOT_FOUND) { return nil }
        try check(s)
        return v.map { String(cString: $0) }
    }

    /// A required integer key: an error naming the key when absent.
    public func requireConfigInt(_ key: String) throws -> Int {
        guard let v = try configInt(key) else {
            throw DPHError(Int32(DPH_ERR_NOT_FOUND), "config.json has no '\(key)'")
        }
        return v
    }

    /// A required size (layers, heads, widths, vocabulary): absent or below `minimum` is an error
    /// naming config.json, the key and the value, before anything is declared.
    public func requireConfigSize(_ key: String, atLeast minimum: Int = 1) throws -> Int {
        try checkedSize(key, requireConfigInt(key), atLeast: minimum)
    }

    /// An optional size: nil when absent (the caller applies the Hugging Face default), else as
    /// `requireConfigSize`.
    public func configSize(_ key: String, atLeast minimum: Int = 1) throws -> Int? {
        try configInt(key).map { try checkedSize(key, $0, atLeast: minimum) }
    }

    private func checkedSize(_ key: String, _ value: Int, atLeast minimum: Int) throws -> Int {
        guard value >= minimum else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "config.json '\(key)' is \(value); it must be at least \(minimum)")
        }
        // No model has a dimension past 2^32, and sums and products of larger ones overflow.
        guard value <= Self.maximumConfigSize else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "config.json '\(key)' is \(value); it must be at most \(Self.maximumConfigSize)")
        }
        return value
    }

    /// The largest size `requireConfigSize` and `configSize` accept (2^32).
    public static let maximumConfigSize = 1 << 32

    /// A fraction in (0, 1] (`partial_rotary_factor`, `rotary_pct`), or nil when absent.
    public func configFraction(_ key: String) throws -> Double? {
        guard let value = try configFloat(key) else { return nil }
        guard value.isFinite, value > 0, value <= 1 else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "config.json '\(key)' is \(value); it must be above 0 and at most 1")
        }
        return value
    }

    /// Refuses a model whose config.json sizes give more float32 parameters than the machine has
    /// memory, before any is declared: `count` is what the plugin computes from the sizes it read
    /// (a lower bound will do). Without it, 10^9 layers would be declared one by one.
    public func checkParameterCount(_ count: Double) throws {
        let bytes = 4 * count, memory = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes <= memory else {
            let gib = 1_073_741_824.0
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), String(format: "config.json's sizes give %.3g parameters (%.3g GiB in float32), more than this machine's %.1f GiB of memory", count, bytes / gib, memory / gib))
        }
    }

    /// plugin.h's `DPH_HOST_HAS(host, field)`: the host table's function `field`, or nil when the
    /// host is older than the field (its table ends before it) or left it NULL. The field is read
    /// only once the table is known to hold it.
    func hostFunction<F>(_ field: KeyPath<dph_host_api, F?>) -> F? {
        let offset = MemoryLayout<dph_host_api>.offset(of: field)!
        guard Int(api.pointee.struct_size) >= offset + MemoryLayout<F?>.size else { return nil }
        return UnsafeRawPointer(api).load(fromByteOffset: offset, as: F?.self)
    }

    // MARK: parameters

    /// Another name the declared parameter has in checkpoints (see plugin.h); a no-op on hosts
    /// older than the function.
    public func declareParameterAlias(_ name: String, _ alias: String) throws {
        guard let fn = hostFunction(\.declare_parameter_alias) else { return }
        try check(fn(ctx, name, alias))
    }

    public func declareParameter(_ name: String, _ shape: [Int], parallel: dph_parallel = DPH_PARALLEL_NONE) throws {
        let dims = shape.map(Int64.init)
        try check(api.pointee.declare_parameter(ctx, name, dims, Int32(dims.count), parallel))
    }

    public func parameter(_ name: String) throws -> dph_tensor {
        try make { api.pointee.parameter(ctx, name, $0) }
    }

    public func kvCacheAppend(layer: Int, key: dph_tensor, value: dph_tensor) throws -> (key: dph_tensor, value: dph_tensor) {
        var k: dph_tensor = 0, v: dph_tensor = 0
        try check(api.pointee.kv_cache_append(ctx, Int32(layer), key, value, &k, &v))
        return (k, v)
    }

    // MARK: blocks

    /// Whether the host has `run_block` (hosts older than it lack the field).
    public var hasRunBlock: Bool { hostFunction(\.run_block) != nil }

    /// Runs one repeated block through `host->run_block` (the host may checkpoint it: `fn` then
    /// runs again during backward, see the header), or calls `fn` directly on an older host.
    /// `fn` is a plain function (no captures); `user` must outlive the tape's backward.
    public func runBlock(layer: Int, _ fn: dph_block_fn, user: UnsafeMutableRawPointer? = nil,
                         inputs: [dph_tensor]) throws -> dph_tensor {
        let runBlock = hostFunction(\.run_block)
        return try make { out in
            inputs.withUnsafeBufferPointer { buf in
                let n = Int32(buf.count)
                if let runBlock { return runBlock(ctx, Int32(layer), fn, user, buf.baseAddress, n, out) }
                return fn(api, ctx, user, Int32(layer), buf.baseAddress, n, out)
            }
        }
    }

    /// Runs the body of a block function (`dph_block_fn`) with the host bound to its context and
    /// its inputs as an array; the tensor the body returns is the block's output.
    public static func block(_ api: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                             _ inputs: UnsafePointer<dph_tensor>?, _ count: Int32, _ out: UnsafeMutablePointer<dph_tensor>?,
                             _ body: (Host, [dph_tensor]) throws -> dph_tensor) -> dph_status {
        Host(api, ctx).run { host in
            guard let out, count >= 0, count == 0 || inputs != nil else {
                throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "missing block arguments")
            }
            out.pointee = try body(host, Array(UnsafeBufferPointer(start: inputs, count: Int(count))))
        }
    }

    // MARK: tensors and ops

    public func indices(_ values: [Int32], shape: [Int]) throws -> dph_tensor {
        let dims = shape.map(Int64.init)
        return try make { api.pointee.tensor_from_int32(ctx, values, dims, Int32(dims.count), $0) }
    }

    public func linear(_ x: dph_tensor, _ weight: dph_tensor, bias: dph_tensor = 0,
                       layout: dph_linear_layout = DPH_LINEAR_OUT_IN) throws -> dph_tensor {
        try make { api.pointee.linear(ctx, x, weight, bias, layout, $0) }
    }

    /// The output projection to the vocabulary through `host->lm_head`, which may compute only
    /// the positions whose logits are read (the rest are 0); `linear` on hosts older than it.
    public func lmHead(_ x: dph_tensor, _ weight: dph_tensor, bias: dph_tensor = 0,
                       layout: dph_linear_layout = DPH_LINEAR_OUT_IN) throws -> dph_tensor {
        guard let lmHead = hostFunction(\.lm_head) else { return try linear(x, weight, bias: bias, layout: layout) }
        return try make { lmHead(ctx, x, weight, bias, layout, $0) }
    }

    public func embedding(_ ids: dph_tensor, _ table: dph_tensor) throws -> dph_tensor {
        try make { api.pointee.embedding(ctx, ids, table, $0) }
    }

    public func layerNorm(_ x: dph_tensor, weight: dph_tensor, bias: dph_tensor, eps: Float) throws -> dph_tensor {
        try make { api.pointee.layer_norm(ctx, x, weight, bias, eps, $0) }
    }

    public func rmsNorm(_ x: dph_tensor, weight: dph_tensor, eps: Float) throws -> dph_tensor {
        try make { api.pointee.rms_norm(ctx, x, weight, eps, $0) }
    }

    public func attention(query: dph_tensor, key: dph_tensor, value: dph_tensor, keyMask: dph_tensor,
                          scale: Float? = nil) throws -> dph_tensor {
        try make { api.pointee.attention(ctx, query, key, value, keyMask, scale == nil ? 0 : 1, scale ?? 0, $0) }
    }

    public func rotary(_ x: dph_tensor, positions: dph_tensor, rotaryDims: Int, inverseFrequencies: [Float]) throws -> dph_tensor {
        try make { api.pointee.rotary(ctx, x, positions, Int32(rotaryDims), inverseFrequencies, Int32(inverseFrequencies.count), $0) }
    }

    public func reshape(_ x: dph_tensor, _ shape: [Int]) throws -> dph_tensor {
        let dims = shape.map(Int64.init)
        return try make { api.pointee.reshape(ctx, x, dims, Int32(dims.count), $0) }
    }

    public func split(_ x: dph_tensor, sizes: [Int], axis: Int) throws -> [dph_tensor] {
        var out = [dph_tensor](repeating: 0, count: sizes.count)
        try check(api.pointee.split(ctx, x, sizes.map(Int64.init), Int32(sizes.count), Int32(axis), &out))
        return out
    }

    public func gelu(_ x: dph_tensor, tanhApproximation: Bool) throws -> dph_tensor {
        try unary(tanhApproximation ? DPH_UNARY_GELU_TANH : DPH_UNARY_GELU_ERF, x)
    }

    public func silu(_ x: dph_tensor) throws -> dph_tensor { try unary(DPH_UNARY_SILU, x) }

    public func int32s(_ t: dph_tensor) throws -> [Int32] {
        let n = try shape(t).reduce(1, *)
        var values = [Int32](repeating: 0, count: n)
        try check(api.pointee.tensor_read_int32(ctx, t, &values, Int64(n)))
        return values
    }
}

/// The C types of a model plugin's callbacks.
public typealias dph_model_configure_fn = @convention(c) (
    UnsafePointer<dph_host_api>?, OpaquePointer?, UnsafeMutableRawPointer?) -> dph_status
public typealias dph_model_forward_fn = @convention(c) (
    UnsafePointer<dph_host_api>?, OpaquePointer?, UnsafeMutableRawPointer?,
    UnsafePointer<dph_forward_args>?, UnsafeMutablePointer<dph_tensor>?) -> dph_status

extension PluginDescription {
    /// A model vtable that lives as long as the library.
    public static func modelVTable(blockName: String, modelTypes: [String], blockClasses: [String] = [],
                                   positionLimitKey: String? = nil, attendsThroughHost: Bool = false,
                                   configure: dph_model_configure_fn,
                                   forward: dph_model_forward_fn) -> UnsafePointer<dph_model_vtable> {
        let v = UnsafeMutablePointer<dph_model_vtable>.allocate(capacity: 1)
        var t = dph_model_vtable()
        t.struct_size = UInt32(MemoryLayout<dph_model_vtable>.size)
        t.block_name = UnsafePointer(strdup(blockName))
        t.configure = configure
        t.forward = forward
        t.model_types = UnsafePointer(strdup(modelTypes.joined(separator: ",")))
        t.block_classes = blockClasses.isEmpty ? nil : UnsafePointer(strdup(blockClasses.joined(separator: ",")))
        t.position_limit_key = positionLimitKey.map { UnsafePointer(strdup($0)) }
        t.attends_through_host = attendsThroughHost ? 1 : 0
        v.initialize(to: t)
        return UnsafePointer(v)
    }
}

/// A model instance's config, parsed from config.json once per `configure` and read by `forward`
/// and every block: without it each block call reads each key through the host again. Make it
/// the instance state with `PluginDescription.setParsedConfigState(desc)`, and pass `state` as a
/// block's `user`.
public final class ParsedConfig {
    var value: Any?
    /// The `TransformerConfig` type `ModelEntry` parses `value` as.
    var family: (any TransformerConfig.Type)?
    public init() {}

    /// The config behind an instance `state` (or a block's `user`), parsed by `parse` the first time.
    public static func of<Config>(_ state: UnsafeMutableRawPointer?, parse: () throws -> Config) throws -> Config {
        let box = try InstanceState.borrow(state, as: ParsedConfig.self)
        if let value = box.value as? Config { return value }
        let value = try parse()
        box.value = value
        return value
    }

    /// Parses again: `configure` calls it, as the config.json may have changed.
    public static func reparse<Config>(_ state: UnsafeMutableRawPointer?, parse: () throws -> Config) throws -> Config {
        try InstanceState.borrow(state, as: ParsedConfig.self).value = nil
        return try of(state, parse: parse)
    }
}

extension PluginDescription {
    /// `create` makes an empty `ParsedConfig` the instance state; `destroy` releases it.
    public static func setParsedConfigState(_ desc: UnsafeMutablePointer<dph_plugin_desc>?) {
        desc?.pointee.create = { _, _, out in
            out?.pointee = InstanceState.box(ParsedConfig())
            return Int32(DPH_OK)
        }
        desc?.pointee.destroy = { InstanceState.release($0) }
    }
}

extension dph_forward_args {
    /// `keys_only`, false from hosts whose arguments end before it: the host reads only the keys
    /// and values passed to `kv_cache_append`, so the plugin may stop after its last layer's.
    public var keysOnly: Bool {
        guard let offset = MemoryLayout<dph_forward_args>.offset(of: \dph_forward_args.keys_only) else { return false }
        return Int(struct_size) >= offset + MemoryLayout<Int32>.size && keys_only != 0
    }
}

