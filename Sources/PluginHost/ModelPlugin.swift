import Foundation
import Autograd
import CDPOHostSDK
import TensorCore

/// A model plugin instance: configure from a HF config.json, bind parameters, run forward.
public struct ModelPlugin {
    public let instance: PluginInstance
    private let vtable: dph_model_vtable

    public init(_ plugin: LoadedPlugin, options: [String: String] = [:]) throws {
        let instance = try PluginInstance(plugin: plugin, options: options)
        try instance.requireKind(.model)
        self.instance = instance
        self.vtable = plugin.descriptor.raw.model!.pointee
    }

    public var tokenizerKind: String { String(cString: vtable.tokenizer_kind) }
    /// HF name pattern of the repeated block, with "{i}" for the block index.
    public var blockName: String { String(cString: vtable.block_name) }
    public var parameterSpecs: [ParameterSpec] { instance.declared }

    /// Activation checkpointing: on a recording forward, each block the plugin runs through
    /// `run_block` keeps only its inputs and is recomputed during backward (fewer activations
    /// held, one more forward of every block). Off by default; no effect on no-grad forwards.
    public var activationCheckpointing: Bool {
        get { instance.activationCheckpointing }
        nonmutating set { instance.activationCheckpointing = newValue }
    }
    /// The Hugging Face `model_type` values this plugin runs (its own name when it lists none).
    public var modelTypes: [String] {
        guard let types = vtable.model_types else { return [instance.plugin.name] }
        return String(cString: types).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Reads `configJSON` and returns the parameters the plugin declared for it.
    @discardableResult
    public func configure(configJSON: String) throws -> [ParameterSpec] {
        do {
            instance.config = try ModelConfig(text: configJSON)
        } catch let e as HostCallError {
            throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "configure", status: e.status, message: e.message)
        }
        instance.declared = []
        let configure = vtable.configure!
        let state = instance.state
        _ = try instance.call("configure", tape: Tape(pool: .serial, recording: false)) { p in
            CallContext.from(p)!.declaring = true
            return configure(HostAPI.table, p, state)
        }
        return instance.declared
    }

    /// Supplies the values of every declared parameter (shapes checked). `shapes` replaces the
    /// declared shape of the parameters it names (a rank's shard under tensor parallelism).
    public func bind(_ parameters: [String: Variable], shapes: [String: [Int]] = [:]) throws {
        for declared in instance.declared {
            let spec = ParameterSpec(name: declared.name, shape: shapes[declared.name] ?? declared.shape, parallel: declared.parallel)
            guard let v = parameters[spec.name] else {
                throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "bind", status: Int32(DPH_ERR_NOT_FOUND),
                                               message: "no value for declared parameter '\(spec.name)'")
            }
            guard v.shape == spec.shape else {
                throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "bind", status: Int32(DPH_ERR_SHAPE),
                                               message: "parameter '\(spec.name)' declared \(spec.shape), given \(v.shape)")
            }
        }
        instance.parameters = parameters
    }

    /// Logits `[N, T, V]` for `inputIDs`/`attentionMask` `[N, T]`, recorded on `tape`.
    /// `logitRows`: the positions (rows of `[N*T]`) whose logits the caller reads; a plugin that
    /// projects through `lm_head` leaves the others 0. nil: every position.
    public func forward(inputIDs: IndexTensor, attentionMask: IndexTensor, positionIDs: IndexTensor? = nil,
                        useCache: Bool = false, logitRows: RowSelection? = nil, tape: Tape) throws -> Variable {
        let forward = vtable.forward!
        let state = instance.state
        instance.cacheEnabled = useCache
        instance.logitRows = logitRows
        defer { instance.logitRows = nil }
        var out: dph_tensor = 0
        var arena: TensorArena?
        var ended = false
        defer { if !ended { try? instance.parameterAccess?.forwardEnded(tape: tape) } }
        _ = try instance.call("forward", tape: tape) { p in
            let a = CallContext.from(p)!.arena
            arena = a
            var args = dph_forward_args()
            args.struct_size = UInt32(MemoryLayout<dph_forward_args>.size)
            args.input_ids = a.add(inputIDs)
            args.attention_mask = a.add(attentionMask)
            args.position_ids = positionIDs.map(a.add) ?? 0
            args.use_cache = useCache ? 1 : 0
            return forward(HostAPI.table, p, state, &args, &out)
        }
        ended = true
        try instance.parameterAccess?.forwardEnded(tape: tape)
        do {
            return try arena!.float(out, "the returned logits")
        } catch let e as HostCallError {
            throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "forward", status: e.status, message: e.message)
        }
    }

    /// Takes over `linear` for the weights it handles (nil: every linear runs as declared).
    public var linearInterceptor: LinearInterceptor? {
        get { instance.linearInterceptor }
        nonmutating set { instance.linearInterceptor = newValue }
    }

    /// Sees every parameter fetch and the end of every forward (nil: parameters are plain).
    public var parameterAccess: ParameterAccess? {
        get { instance.parameterAccess }
        nonmutating set { instance.parameterAccess = newValue }
    }

    /// Forgets cached keys and values (start of a new generation).
    public func resetCache() { instance.kvCache = [:] }
}
