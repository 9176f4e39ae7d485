#if canImport(Glibc)
import Glibc
#endif

// What loss plugins need beyond DPOHostSDK.swift and Host+Models.swift: the remaining unary ops
// by name, slicing, chosen/rejected halves, the fused label log-prob op, required-input checks
// and per-instance state for `create`/`destroy`. Thin, stateless and throwing like the rest.

extension Host {
    // MARK: unary ops by name
    // (No `exp`/`log` members: inside Host extensions they would hide the math functions;
    // use `unary(DPH_UNARY_EXP, x)`.)

    public func neg(_ x: dph_tensor) throws -> dph_tensor { try unary(DPH_UNARY_NEG, x) }
    public func square(_ x: dph_tensor) throws -> dph_tensor { try unary(DPH_UNARY_SQUARE, x) }
    public func relu(_ x: dph_tensor) throws -> dph_tensor { try unary(DPH_UNARY_RELU, x) }
    /// Softmax over the last axis.
    public func softmax(_ x: dph_tensor) throws -> dph_tensor { try unary(DPH_UNARY_SOFTMAX, x) }
    /// Log-softmax over the last axis (stable; never `log(softmax)`).
    public func logSoftmax(_ x: dph_tensor) throws -> dph_tensor { try unary(DPH_UNARY_LOG_SOFTMAX, x) }

    // MARK: shapes

    /// Elements `range` along `axis` (negative axes count from the end).
    public func slice(_ x: dph_tensor, axis: Int, _ range: Range<Int>) throws -> dph_tensor {
        try make { api.pointee.slice(ctx, x, Int32(axis), Int64(range.lowerBound), Int64(range.upperBound), $0) }
    }

    public func concat(_ xs: [dph_tensor], axis: Int) throws -> dph_tensor {
        try make { api.pointee.concat(ctx, xs, Int32(xs.count), Int32(axis), $0) }
    }

    /// A preference batch's `[2B, ...]` tensor as its chosen (rows 0..<B) and rejected halves.
    public func halves(_ x: dph_tensor) throws -> (chosen: dph_tensor, rejected: dph_tensor) {
        let rows = try shape(x).first ?? 0
        guard rows % 2 == 0 else { throw DPHError(Int32(DPH_ERR_SHAPE), "expected 2B rows (chosen then rejected), got \(rows)") }
        let parts = try split(x, sizes: [rows / 2, rows / 2], axis: 0)
        return (parts[0], parts[1])
    }

    // MARK: log-probs

    /// `[N, T, V]` logits and `[N, T]` int32 labels -> `[N, T-1]` log-probs of the next label
    /// (0 where the label is -100), log-softmax over the full last axis.
    public func labelLogProbs(_ logits: dph_tensor, labels: dph_tensor) throws -> dph_tensor {
        try make { api.pointee.label_log_probs(ctx, logits, labels, $0) }
    }

    /// TDPO's per-position KL of the reference from the policy (`[N, T, V]` logits twice and a
    /// `[N, T-1]` mask -> `[N, T-1]`), fused over the vocabulary; nil when the host predates
    /// `token_kl` (compose it from log_softmax/softmax then). `underflows`: kept positions where
    /// the reference softmax has an exact 0.
    public func tokenKL(policy: dph_tensor, reference: dph_tensor, mask: dph_tensor) throws -> (kl: dph_tensor, underflows: Int)? {
        let api = self.api
        guard api.pointee.struct_size >= MemoryLayout<dph_host_api>.offset(of: \dph_host_api.token_kl)! + MemoryLayout<UnsafeRawPointer>.size,
              let tokenKL = api.pointee.token_kl else { return nil }
        var zeros: Int64 = 0
        let kl = try make { tokenKL(ctx, policy, reference, mask, $0, &zeros) }
        return (kl, Int(zeros))
    }

    // MARK: inputs

    /// `handle`, or a clear error naming the missing input and why the plugin needs it.
    public func require(_ handle: dph_tensor, _ name: String, for purpose: String) throws -> dph_tensor {
        guard handle != 0 else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "input '\(name)' is missing; it is needed \(purpose)")
        }
        return handle
    }
}

/// A plugin instance's own state (what `create` returns as `*out_state`), as a retained Swift
/// object: `create` boxes it, callbacks borrow it, `destroy` releases it.
public enum InstanceState {
    public static func box(_ object: AnyObject) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(object).toOpaque()
    }

    /// The object behind `state`; an error (not a crash) when it is missing or of another type.
    public static func borrow<T: AnyObject>(_ state: UnsafeMutableRawPointer?, as type: T.Type) throws -> T {
        guard let state, let object = Unmanaged<AnyObject>.fromOpaque(state).takeUnretainedValue() as? T else {
            throw DPHError(Int32(DPH_ERR_PLUGIN), "the plugin instance has no state (was create called?)")
        }
        return object
    }

    public static func release(_ state: UnsafeMutableRawPointer?) {
        guard let state else { return }
        Unmanaged<AnyObject>.fromOpaque(state).release()
    }
}

extension PluginDescription {
    /// Sets `create` (which reads and checks the options, then returns `InstanceState.box(...)`)
    /// and a `destroy` that releases that state.
    public static func setInstanceState(_ desc: UnsafeMutablePointer<dph_plugin_desc>?,
                                        create: dph_plugin_create) {
        desc?.pointee.create = create
        desc?.pointee.destroy = { InstanceState.release($0) }
    }
}

/// The C type of a plugin's `create` callback.
public typealias dph_plugin_create = @convention(c) (
    UnsafePointer<dph_host_api>?, OpaquePointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> dph_status
