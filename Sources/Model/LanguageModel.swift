import Autograd
import Checkpoint
import Foundation
import PluginHost
import TensorCore

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingConfigKey(file: String, key: String)
    case unknownArchitecture(file: String, modelType: String, available: [String])
    case missingTensor(directory: String, tensor: String)
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    case notAModelDirectory(String)
    /// A setting that names something of the model that it does not have (`model.block_name`).
    case invalidSetting(String)

    public var description: String {
        switch self {
        case let .missingConfigKey(file, key): return "\(file): no '\(key)' key; cannot tell which architecture this is"
        case let .unknownArchitecture(file, type, available):
            return "\(file): unknown architecture model_type '\(type)'; the loaded model plugins run: \(available.isEmpty ? "none" : available.joined(separator: ", "))"
        case let .missingTensor(dir, tensor): return "\(dir): checkpoint has no tensor '\(tensor)' (declared by the model plugin)"
        case let .shapeMismatch(file, tensor, expected, found):
            return "\(file): tensor '\(tensor)' has shape \(found), the model's config.json implies \(expected)"
        case let .notAModelDirectory(what): return what
        case let .invalidSetting(what): return what
        }
    }
}

/// A causal LM: a model plugin chosen by config.json's `model_type`, with its declared
/// parameters filled from a Hugging Face directory (safetensors, single file or sharded).
///
/// The policy is loaded `trainable` (its parameters collect gradients); the frozen reference is
/// not, and runs on non-recording tapes.
public final class LanguageModel {
    public let directory: String
    public let configText: String
    /// config.json as read once by `ModelDirectory` (configText is what the plugin reads).
    private let config: [String: JSONValue]
    public let modelType: String
    public let plugin: ModelPlugin
    /// In declaration order; names are the Hugging Face names. Under tensor parallelism the
    /// split ones are this rank's blocks (see `shards`).
    public private(set) var parameters: [NamedParameter]
    /// Other checkpoint names of a parameter (`declare_parameter_alias`), for `load(weights:)`.
    private(set) var aliases: [String: [String]] = [:]
    /// Set when tensor parallelism split some parameters across ranks.
    public private(set) var shards: ModelShards?
    /// Set when the parameters are not plain float32 tensors between uses: FSDP's slices, or a
    /// frozen reference's 16-bit weights.
    public private(set) var store: ParameterStore?
    /// The type every value written into the parameters is rounded to (`reference_dtype`).
    public private(set) var valuePrecision: WeightPrecision = .float32
    /// LoRA adapters on the linears (`attachLoRA`), shared with the reference view.
    public internal(set) var lora: LoRAAdapters?
    /// Whether this model's forwards apply the adapters: false for the reference view.
    public private(set) var adaptersActive = true

    public init(directory: String, registry: PluginRegistry, trainable: Bool) throws {
        let dir = try ModelDirectory(path: directory)
        let configPath = directory + "/config.json"
        let configText: String
        do { configText = try String(contentsOfFile: configPath, encoding: .utf8) } catch {
            throw ModelError.notAModelDirectory("\(configPath): cannot read config.json (\(error.localizedDescription))")
        }
        let config = try dir.configObject()
        guard let type = config["model_type"]?.stringValue else {
            throw ModelError.missingConfigKey(file: configPath, key: "model_type")
        }
        let candidates = registry.plugins(kind: .model)
        var chosen: ModelPlugin?
        var available: [String] = []
        for candidate in candidates {
            let instance = try ModelPlugin(candidate)
            available += instance.modelTypes
            if instance.modelTypes.contains(type) { chosen = instance; break }
        }
        guard let plugin = chosen else {
            throw ModelError.unknownArchitecture(file: configPath, modelType: type, available: available.sorted())
        }
        let specs = try plugin.configure(configJSON: configText)
        var params: [NamedParameter] = []
        var bound: [String: Variable] = [:]
        for spec in specs {
            let name = try Self.storedName(of: spec, in: dir, directory: directory)
            let found = try dir.shape(of: name)
            guard found == spec.shape else {
                throw ModelError.shapeMismatch(file: try dir.file(containing: name), tensor: name, expected: spec.shape, found: found)
            }
            let v = Variable(try dir.floatTensor(named: name), requiresGrad: trainable)
            params.append(NamedParameter(name: spec.name, variable: v))
            bound[spec.name] = v
        }
        try plugin.bind(bound)
        self.directory = directory
        self.configText = configText
        self.config = config
        self.modelType = type
        self.plugin = plugin
        self.parameters = params
        self.aliases = specs.reduce(into: [:]) { $0[$1.name] = $1.aliases }
    }

    /// The same weights and plugin with the LoRA adapters off: LoRA DPO's reference, which holds
    /// no second copy of the model.
    public func referenceView() -> LanguageModel { LanguageModel(viewOf: self) }

    private init(viewOf other: LanguageModel) {
        directory = other.directory
        configText = other.configText
        config = other.config
        modelType = other.modelType
        plugin = other.plugin
        parameters = other.parameters
        aliases = other.aliases
        shards = other.shards
        store = other.store
        valuePrecision = other.valuePrecision
        lora = other.lora
        adaptersActive = false
    }

    /// What the optimizer updates: parameters that collect gradients, then the LoRA adapters.
    public var trainableParameters: [NamedParameter] {
        parameters.filter(\.variable.requiresGrad) + (lora?.parameters ?? [])
    }

    /// Whether this is another model's reference view (it holds no weights of its own).
    public var isView: Bool { !adaptersActive }

    /// The checkpoint's name for a declared parameter: the declared name, one of its aliases
    /// (`declare_parameter_alias`), or the name without its first component (hub GPT-2 files
    /// lack the `transformer.` prefix of saved ones).
    static func storedName(of spec: ParameterSpec, in dir: ModelDirectory, directory: String) throws -> String {
        let declared = spec.name
        if dir.contains(declared) { return declared }
        if let alias = spec.aliases.first(where: dir.contains) { return alias }
        if let dot = declared.firstIndex(of: ".") {
            let stripped = String(declared[declared.index(after: dot)...])
            if dir.contains(stripped) { return stripped }
        }
        throw ModelError.missingTensor(directory: directory, tensor: declared)
    }

    /// Activation checkpointing of the plugin's blocks on recording forwards (see
    /// `ModelPlugin.activationCheckpointing`); the trainers set it on the policy only.
    public var activationCheckpointing: Bool {
        get { plugin.activationCheckpointing }
        set { plugin.activationCheckpointing = newValue }
    }

    /// Logits `[N, T, V]`, recorded on `tape` (a non-recording tape for the reference).
    /// `logitRows`: the positions whose logits are read (see `ModelPlugin.forward`); nil: all.
    public func forward(ids: IndexTensor, mask: IndexTensor, positions: IndexTensor? = nil,
                        useCache: Bool = false, logitRows: RowSelection? = nil, tape: Tape) throws -> Variable {
        lora?.enabled = adaptersActive
        return try plugin.forward(inputIDs: ids, attentionMask: mask, positionIDs: positions, useCache: useCache,
                           logitRows: logitRows, tape: tape)
    }

    /// Logits of positions `prompt.length..<T` of `ids`/`mask` `[2B, T]` (every position when
    /// `prompt` is nil), on `tape`: the shared prompt runs once per pair when the plugin passes its
    /// keys through `kv_cache_append`; otherwise whole rows run and the positions are cut from them.
    /// `logitRows` selects rows of the returned positions, `wholeRowLogitRows` those of whole rows.
    /// `shared` tells whether the prompt ran once.
    public func forward(ids: IndexTensor, mask: IndexTensor, sharing prompt: SharedPrompt?, logitRows: RowSelection?,
                        wholeRowLogitRows: RowSelection?, tape: Tape) throws -> (logits: Variable, shared: Bool) {
        guard let prompt else { return (try forward(ids: ids, mask: mask, logitRows: logitRows, tape: tape), false) }
        lora?.enabled = adaptersActive
        if let logits = try plugin.forwardSharingPrompt(inputIDs: ids, attentionMask: mask, prompt: prompt.length,
                                                        promptRows: prompt.pairs, logitRows: logitRows, tape: tape) {
            return (logits, true)
        }
        let whole = try forward(ids: ids, mask: mask, logitRows: wholeRowLogitRows, tape: tape)
        return (try tape.slice(whole, axis: 1, range: prompt.length..<ids.shape[1]), false)
    }

    /// Parameter values by Hugging Face name (shared storage, not copies). Not available under
    /// FSDP, where the values are whole only during a forward (see `RankShare.fullState(of:)`).
    public var state: [String: Tensor] {
        precondition(store == nil, "LanguageModel.state: the parameters are held by \(String(describing: store.map { type(of: $0) }))")
        return Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.variable.value) })
    }

    /// Overwrites parameters from full `weights` (e.g. `model.archive`, a checkpoint saved at any
    /// world size); every parameter must be present. A split parameter takes its block.
    /// `model.block_name` (the reference's FSDP and activation-checkpointing unit) against the
    /// model plugin's repeated block, which is always dpohost's unit: nil, the plugin's class
    /// name (e.g. GPTNeoXLayer) or its name pattern pass; another value is an error. Returns a
    /// note to log when the plugin names no class to check against.
    public func checkBlockName(_ name: String?) throws -> String? {
        guard let name else { return nil }
        let classes = plugin.blockClasses
        if classes.isEmpty {
            return "model.block_name=\(name) not checked: the \(plugin.instance.plugin.name) model plugin names no block class; its blocks are \(plugin.blockName)"
        }
        guard classes.contains(name) || name == plugin.blockName else {
            throw ModelError.invalidSetting("model.block_name=\(name): the \(plugin.instance.plugin.name) model's repeated block is \(classes.joined(separator: " or ")) (\(plugin.blockName)); set model.block_name=\(classes[0]) or null")
        }
        return nil
    }

    /// The hard limit on positions the model plugin names (`position_limit_key`) and its value in
    /// config.json, nil when the model has none (rotary models run past their trained length).
    public var positionLimit: (positions: Int, key: String)? {
        guard let key = plugin.positionLimitKey, let value = configInteger(key) else { return nil }
        return (value, key)
    }

    /// An integer of config.json (`vocab_size`), nil when absent or not an integer.
    public func configInteger(_ key: String) -> Int? { config[key]?.intValue }

    /// Refuses `tokens` positions (a max_length, a prompt and its generation) past the model's hard
    /// limit, naming `what`, the limit and where it comes from.
    public func checkPositions(_ tokens: Int, for what: String) throws {
        guard let limit = positionLimit, tokens > limit.positions else { return }
        throw ModelError.invalidSetting("\(what) needs \(tokens) positions; the model has \(limit.positions) (\(limit.key) in \(directory)/config.json)")
    }

    public func load(weights given: [String: Tensor], from source: String) throws {
        var weights = given
        for p in parameters where weights[p.name] == nil {
            if let alias = aliases[p.name]?.first(where: { given[$0] != nil }) { weights[p.name] = given[alias] }
        }
        for p in parameters {
            guard let t = weights[p.name] else { throw ModelError.missingTensor(directory: source, tensor: p.name) }
            let full = shards?.fullShapes[p.name] ?? p.variable.shape
            guard t.shape == full else {
                throw ModelError.shapeMismatch(file: source, tensor: p.name, expected: full, found: t.shape)
            }
        }
        if let store { return try store.load(weights) }
        for p in parameters {
            try p.variable.value.assign(shards?.local(p.name, of: weights[p.name]!) ?? weights[p.name]!)
            valuePrecision.round(p.variable.value.pointer, count: p.variable.value.count)
        }
    }

    /// Rounds the parameters to `precision` now and whatever is loaded or mixed into them later
    /// (the frozen reference's `reference_dtype`). Call before any sharding or compaction.
    public func castWeights(to precision: WeightPrecision) {
        precondition(store == nil, "castWeights before the parameters are sharded or compacted")
        valuePrecision = precision
        for p in parameters { precision.round(p.variable.value.pointer, count: p.variable.value.count) }
    }

    /// Holds the weights as 16-bit values between uses (`valuePrecision` float16 or bfloat16),
    /// halving their memory; for a frozen model.
    public func compactWeights() throws {
        guard valuePrecision != .float32 else { return }
        _ = try CompactParameters(model: self, precision: valuePrecision)
    }

    /// `castWeights(to:)` and `compactWeights()` in one pass that never writes the float32 values
    /// (loaded weights are mapped from their file: writing them would copy every page).
    public func compactWeights(as precision: WeightPrecision) throws {
        precondition(store == nil, "compactWeights before the parameters are sharded or compacted")
        guard precision != .float32 else { return }
        valuePrecision = precision
        _ = try CompactParameters(model: self, precision: precision)
    }

    /// A parameter's values as they compute, read through 16-bit storage when the weights are
    /// held compact (one parameter widened, not the model). Not for FSDP's slices.
    func currentValue(of p: NamedParameter) -> Tensor {
        (store as? CompactParameters)?.decoded(p.name) ?? p.variable.value
    }

    /// Rebinds the plugin to views of the parameters that `store` fills on use.
    public func adopt(store: ParameterStore, parameters rebound: [NamedParameter], access: ParameterAccess) throws {
        try plugin.bind(Dictionary(uniqueKeysWithValues: rebound.map { ($0.name, $0.variable) }))
        plugin.parameterAccess = access
        parameters = rebound
        self.store = store
        lora?.rebind(to: rebound)
    }

    /// Replaces the parameters by this rank's blocks of them (tensor parallelism), rebinding the
    /// plugin to them.
    public func adopt(shards: ModelShards, parameters local: [NamedParameter]) throws {
        try plugin.bind(Dictionary(uniqueKeysWithValues: local.map { ($0.name, $0.variable) }),
                        shapes: Dictionary(uniqueKeysWithValues: local.map { ($0.name, $0.variable.shape) }))
        parameters = local
        self.shards = shards
    }

    /// `self = (1 - alpha) * self + alpha * other`, parameter by parameter (TR-DPO reference sync).
    public func mix(toward other: LanguageModel, alpha: Float) throws {
        if let store { return try store.mix(toward: other, alpha: alpha) }
        guard other.store == nil else {
            throw ModelError.notAModelDirectory("cannot mix a plain model toward a sharded or compacted one")
        }
        let theirs = Dictionary(uniqueKeysWithValues: other.parameters.map { ($0.name, $0.variable.value) })
        for p in parameters {
            guard let t = theirs[p.name], t.shape == p.variable.shape else {
                throw ModelError.shapeMismatch(file: other.directory, tensor: p.name, expected: p.variable.shape,
                                               found: theirs[p.name]?.shape ?? [])
            }
            let mine = p.variable.value.pointer, src = t.contiguous().pointer
            for i in 0..<p.variable.value.count { mine[i] = (1 - alpha) * mine[i] + alpha * src[i] }
            valuePrecision.round(mine, count: p.variable.value.count)
        }
    }

    /// Parameter count (for reports).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.variable.value.count } }
}
