import Foundation
import Autograd
import CDPOHostSDK
import TensorCore

/// A model plugin instance: configure from a HF config.json, bind parameters, run forward.
public struct ModelPlugin {
    public let instance: PluginInstance
    /// The instance's model state (a model-kind instance always has one).
    let modelState: ModelInstanceState
    private let vtable: dph_model_vtable

    public init(_ plugin: LoadedPlugin, options: [String: String] = [:]) throws {
        instance = try PluginInstance(plugin: plugin, options: options, kind: .model)
        modelState = instance.model!
        vtable = plugin.descriptor.modelVTable!
        modelState.packsSharedPrompt = vtable.attends_through_host != 0
    }

    /// HF name pattern of the repeated block, with "{i}" for the block index.
    public var blockName: String { String(cString: vtable.block_name) }
    public var parameterSpecs: [ParameterSpec] { modelState.declared }
    /// transformers' class names of the repeated block (what `model.block_name` names); empty
    /// when the plugin names none or predates the field (`modelVTable` leaves it NULL then).
    public var blockClasses: [String] {
        guard let names = vtable.block_classes else { return [] }
        return String(cString: names).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The config.json key holding a hard limit on positions (`position_limit_key`), nil when the
    /// model has none or the plugin predates the field.
    public var positionLimitKey: String? {
        guard let key = vtable.position_limit_key else { return nil }
        return String(cString: key)
    }

    /// Activation checkpointing: on a recording forward, each block the plugin runs through
    /// `run_block` keeps only its inputs and is recomputed during backward (fewer activations
    /// held, one more forward of every block). Off by default; no effect on no-grad forwards.
    public var activationCheckpointing: Bool {
        get { modelState.activationCheckpointing }
        nonmutating set { modelState.activationCheckpointing = newValue }
    }
    /// The Hugging Face `model_type` values this plugin runs (its own name when it lists none).
    public var modelTypes: [String] {
        guard let types = vtable.model_types else { return [instance.plugin.name] }
        return String(cString: types).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Reads `configJSON` and returns the parameters the plugin declared for it.
    @discardableResult
    public func configure(configJSON: String) throws -> [ParameterSpec] {
        modelState.config = try failing(as: "configure") { try ConfigJSON(text: configJSON) }
        modelState.declared = []
        let configure = vtable.configure!
        let state = instance.state
        _ = try instance.call("configure", tape: Tape(pool: .serial, recording: false)) { p in
            CallContext.from(p)!.declaring = true
            return configure(HostAPI.table, p, state)
        }
        return modelState.declared
    }

    /// Supplies the values of every declared parameter (shapes checked). `shapes` replaces the
    /// declared shape of the parameters it names (a rank's shard under tensor parallelism).
    public func bind(_ parameters: [String: Variable], shapes: [String: [Int]] = [:]) throws {
        for declared in modelState.declared {
            var spec = ParameterSpec(name: declared.name, shape: shapes[declared.name] ?? declared.shape, parallel: declared.parallel)
            spec.aliases = declared.aliases
            guard let v = parameters[spec.name] else {
                throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "bind", status: Int32(DPH_ERR_NOT_FOUND),
                                               message: "no value for declared parameter '\(spec.name)'")
            }
            guard v.shape == spec.shape else {
                throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "bind", status: Int32(DPH_ERR_SHAPE),
                                               message: "parameter '\(spec.name)' declared \(spec.shape), given \(v.shape)")
            }
        }
        modelState.parameters = parameters
    }

    /// Logits `[N, T, V]` for `inputIDs`/`attentionMask` `[N, T]`, recorded on `tape`.
    /// `logitRows`: the positions (rows of `[N*T]`) whose logits the caller reads; a plugin that
    /// projects through `lm_head` leaves the others 0. nil: every position.
    public func forward(inputIDs: IndexTensor, attentionMask: IndexTensor, positionIDs: IndexTensor? = nil,
                        useCache: Bool = false, logitRows: RowSelection? = nil, tape: Tape) throws -> Variable {
        try run(inputIDs: inputIDs, attentionMask: attentionMask, positionIDs: positionIDs,
                keys: useCache ? .generation(modelState.generationCache) : .passThrough, logitRows: logitRows, tape: tape)
    }

    /// Whether a shared prompt and the rows after it run as one sequence (the plugin's
    /// `attends_through_host`), rather than the prompt as a forward of its own.
    public var packsSharedPrompt: Bool {
        get { modelState.packsSharedPrompt }
        nonmutating set { modelState.packsSharedPrompt = newValue }
    }

    /// Logits `[N, T - prompt, V]` of positions `prompt..<T` of `inputIDs`/`attentionMask`
    /// `[N, T]`, whose first `prompt` positions are the same in rows r and r + P for
    /// P = `promptRows` (a preference batch: its B pairs, N = 2B). Those positions run once, on
    /// rows 0..<P; every row's own positions attend to its pair's prompt keys, then to their own.
    /// Causal attention makes that the rows' own result (no position sees a later one), for
    /// (N - P)·prompt fewer positions through every block. With `packsSharedPrompt` the prompts
    /// and the rows run as one sequence (`PackedPrompt`); otherwise the prompts run first, keeping
    /// each layer's keys and values (the plugin's `kv_cache_append`), and the rows after them.
    /// Recorded on `tape`: gradients reach the prompts through the shared keys.
    /// `logitRows`: the positions of `[N * (T - prompt)]` whose logits are read.
    /// nil when the plugin does not pass its keys through `kv_cache_append` (use `forward`).
    public func forwardSharingPrompt(inputIDs: IndexTensor, attentionMask: IndexTensor, prompt: Int, promptRows: Int,
                                     logitRows: RowSelection? = nil, tape: Tape) throws -> Variable? {
        let (n, t) = (inputIDs.shape[0], inputIDs.shape[1])
        precondition(prompt > 0 && prompt < t && promptRows > 0 && n % promptRows == 0,
                     "forwardSharingPrompt: prompt \(prompt) of \(t) positions, \(promptRows) prompt rows of \(n)")
        guard modelState.appendsKeys != false else { return nil }
        if packsSharedPrompt {
            return try forwardPacked(PackedPrompt(ids: inputIDs, mask: attentionMask, prompt: prompt, promptRows: promptRows),
                                     logitRows: logitRows, tape: tape)
        }
        let shared = KeyValueCache()
        let head = 0..<prompt
        _ = try run(inputIDs: inputIDs.rows(0..<promptRows).columns(head),
                    attentionMask: attentionMask.rows(0..<promptRows).columns(head),
                    positionIDs: try IndexTensor(shape: [promptRows, prompt], values: (0..<promptRows).flatMap { _ in head.map(Int32.init) }),
                    keys: .recordPrompt(shared), logitRows: RowSelection(rows: promptRows * prompt) { _ in false }, tape: tape)
        guard !shared.layers.isEmpty else {
            modelState.appendsKeys = false
            return nil
        }
        let logits = try run(inputIDs: inputIDs.columns(prompt..<t), attentionMask: attentionMask,
                             positionIDs: try IndexTensor(shape: [n, t - prompt], values: (0..<n).flatMap { _ in (prompt..<t).map(Int32.init) }),
                             keys: .continuePrompt(shared), logitRows: logitRows, tape: tape)
        let skipped = Set(shared.layers.keys).subtracting(shared.continued)
        guard skipped.isEmpty else {
            throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "forward", status: Int32(DPH_ERR_INVALID_ARGUMENT),
                                           message: "layers \(skipped.sorted()) kept keys in the shared-prompt pass but did not append to them after it")
        }
        return logits
    }

    /// The packed forward of `forwardSharingPrompt`: one pass over prompts and rows.
    private func forwardPacked(_ packing: PackedPrompt, logitRows: RowSelection?, tape: Tape) throws -> Variable? {
        let logits: Variable?
        do {
            logits = try run(inputIDs: packing.inputIDs, attentionMask: packing.attentionMask, positionIDs: packing.positionIDs,
                             keys: .packed(packing), logitRows: logitRows, tape: tape)
        } catch where packing.attendedWithoutKeys {
            logits = nil
        }
        guard let logits, !packing.appendedNone else {
            modelState.appendsKeys = false
            return nil
        }
        let unattended = packing.unattended
        guard unattended.isEmpty else {
            throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "forward", status: Int32(DPH_ERR_INVALID_ARGUMENT),
                                           message: "layers \(unattended) appended keys in a packed forward (attends_through_host) but host attention never ran on them")
        }
        return try failing(as: "forward") { try packing.rowLogits(logits, tape: tape) }
    }

    /// `body`, with a host function's error given as this plugin's failure in `call`.
    private func failing<T>(as call: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as HostCallError {
            throw PluginError.pluginFailed(plugin: instance.plugin.name, call: call, status: e.status, message: e.message)
        }
    }

    private func run(inputIDs: IndexTensor, attentionMask: IndexTensor, positionIDs: IndexTensor?,
                     keys: ForwardPass.Keys, logitRows: RowSelection?, tape: Tape) throws -> Variable {
        let forward = vtable.forward!
        let state = instance.state
        let pass = ForwardPass(keys: keys, logitRows: logitRows)
        modelState.forwardPass = pass
        defer { modelState.forwardPass = nil }
        var out: dph_tensor = 0
        var arena: TensorArena?
        var ended = false
        defer { if !ended { try? modelState.parameterAccess?.forwardEnded(tape: tape) } }
        _ = try instance.call("forward", tape: tape) { p in
            let a = CallContext.from(p)!.arena
            arena = a
            var args = dph_forward_args()
            args.struct_size = UInt32(MemoryLayout<dph_forward_args>.size)
            args.input_ids = a.add(inputIDs)
            args.attention_mask = a.add(attentionMask)
            args.position_ids = positionIDs.map(a.add) ?? 0
            args.use_cache = pass.passesKeysThrough ? 0 : 1
            if case .recordPrompt = keys { args.keys_only = 1 } else { args.keys_only = 0 }
            return forward(HostAPI.table, p, state, &args, &out)
        }
        ended = true
        try modelState.parameterAccess?.forwardEnded(tape: tape)
        return try failing(as: "forward") { try arena!.float(out, "the returned logits") }
    }

    /// Takes over `linear` for the weights it handles (nil: every linear runs as declared).
    public var linearInterceptor: LinearInterceptor? {
        get { modelState.linearInterceptor }
        nonmutating set { modelState.linearInterceptor = newValue }
    }

    /// Sees every parameter fetch and the end of every forward (nil: parameters are plain).
    public var parameterAccess: ParameterAccess? {
        get { modelState.parameterAccess }
        nonmutating set { modelState.parameterAccess = newValue }
    }

    /// Forgets cached keys and values (start of a new generation).
    public func resetCache() { modelState.generationCache.layers = [:] }
}
