import Autograd
import CDPOHostSDK
import Foundation
import TensorCore

/// Host functions only model plugins use: the HF config, parameters, the key/value cache.
extension HostAPI {
    static func modelInstance(_ ctx: CallContext, _ what: String) throws -> (instance: PluginInstance, model: ModelInstanceState) {
        guard let instance = ctx.instance, let model = instance.model else {
            throw HostCallError(status: Int32(DPH_ERR_UNSUPPORTED), message: "\(what) is only available to model plugins")
        }
        return (instance, model)
    }

    static func configValue(_ ctx: CallContext, _ key: UnsafePointer<CChar>?) throws -> (String, Any) {
        let k = try requireString(key, "config key")
        guard let config = try HostAPI.modelInstance(ctx, "config").model.config else {
            throw HostCallError(status: Int32(DPH_ERR_UNSUPPORTED), message: "no config.json is loaded yet (call from configure)")
        }
        guard let v = config.value(k) else { throw HostCallError.notFound("config.json has no key '\(k)'") }
        return (k, v)
    }

    static func installModel(_ api: inout dph_host_api) {
        api.config_json = { p, out in CallContext.run(p) { ctx in
            let (instance, model) = try HostAPI.modelInstance(ctx, "config_json")
            guard let config = model.config else { throw HostCallError.notFound("no config.json is loaded") }
            try requireOut(out).pointee = instance.strings.intern(config.text)
        } }
        api.config_int = { p, key, out in CallContext.run(p) { ctx in
            let (k, v) = try HostAPI.configValue(ctx, key)
            guard let n = v as? NSNumber, let i = Int64(exactly: n.doubleValue) else {
                throw HostCallError.invalid("config key '\(k)' is \(v), not an integer")
            }
            try requireOut(out).pointee = i
        } }
        api.config_float = { p, key, out in CallContext.run(p) { ctx in
            let (k, v) = try HostAPI.configValue(ctx, key)
            guard let n = v as? NSNumber else { throw HostCallError.invalid("config key '\(k)' is \(v), not a number") }
            try requireOut(out).pointee = n.doubleValue
        } }
        api.config_bool = { p, key, out in CallContext.run(p) { ctx in
            let (k, v) = try HostAPI.configValue(ctx, key)
            guard let b = v as? Bool else { throw HostCallError.invalid("config key '\(k)' is \(v), not a bool") }
            try requireOut(out).pointee = b ? 1 : 0
        } }
        api.config_string = { p, key, out in CallContext.run(p) { ctx in
            let (k, v) = try HostAPI.configValue(ctx, key)
            guard let s = v as? String else { throw HostCallError.invalid("config key '\(k)' is \(v), not a string") }
            try requireOut(out).pointee = ctx.instance!.strings.intern(s)
        } }
        api.declare_parameter = { p, name, shape, rank, parallel in CallContext.run(p) { ctx in
            let model = try HostAPI.modelInstance(ctx, "declare_parameter").model
            guard ctx.declaring else { throw HostCallError.invalid("declare_parameter is only allowed during configure") }
            let n = try requireString(name, "parameter name")
            guard !n.isEmpty else { throw HostCallError.invalid("parameter name is empty") }
            guard !model.declaredNames.contains(n) else {
                throw HostCallError.invalid("parameter '\(n)' is declared twice")
            }
            guard let style = ParallelStyle(abi: parallel) else {
                throw HostCallError.invalid("parameter '\(n)': unknown parallel style \(parallel.rawValue)")
            }
            let spec = ParameterSpec(name: n, shape: try HostAPI.readShape(shape, rank), parallel: style)
            model.declaredBytes = try ParameterBudget(machineBytes: ProcessInfo.processInfo.physicalMemory)
                .total(adding: spec, to: model.declaredBytes)
            model.declared.append(spec)
            model.declaredNames.insert(n)
        } }
        api.declare_parameter_alias = { p, name, alias in CallContext.run(p) { ctx in
            let model = try HostAPI.modelInstance(ctx, "declare_parameter_alias").model
            guard ctx.declaring else { throw HostCallError.invalid("declare_parameter_alias is only allowed during configure") }
            let n = try requireString(name, "parameter name"), a = try requireString(alias, "alias")
            guard let i = model.declared.firstIndex(where: { $0.name == n }) else {
                throw HostCallError.notFound("declare_parameter_alias: parameter '\(n)' is not declared")
            }
            guard !a.isEmpty, a != n else { throw HostCallError.invalid("declare_parameter_alias: '\(a)' is not another name for '\(n)'") }
            model.declared[i].aliases.append(a)
        } }
        api.parameter = { p, name, out in CallContext.run(p) { ctx in
            let model = try HostAPI.modelInstance(ctx, "parameter").model
            let n = try requireString(name, "parameter name")
            guard let bound = model.parameters[n] else {
                throw HostCallError.notFound("parameter '\(n)' is not declared or not bound")
            }
            try model.parameterAccess?.willUse(n, tape: ctx.arena.tape)
            try requireOut(out).pointee = ctx.arena.add(model.linearInterceptor?.substitute(parameter: n) ?? bound)
        } }
        api.kv_cache_append = { p, layer, k, v, outK, outV in CallContext.run(p) { ctx in
            let model = try HostAPI.modelInstance(ctx, "kv_cache_append").model
            let key = try ctx.arena.float(k, "k"), value = try ctx.arena.float(v, "v")
            let ok = try requireOut(outK, "out_k"), ov = try requireOut(outV, "out_v")
            model.appendsKeys = true
            let out = try HostAPI.appendKeys(model, layer: layer, key: key, value: value, tape: ctx.arena.tape)
            ok.pointee = ctx.arena.add(out.key)
            ov.pointee = ctx.arena.add(out.value)
        } }
    }

    /// `kv_cache_append` by the forward pass in progress: the keys and values the layer attends to.
    static func appendKeys(_ model: ModelInstanceState, layer: Int32, key: Variable, value: Variable,
                           tape: Tape) throws -> (key: Variable, value: Variable) {
        switch model.forwardPass?.keys ?? .passThrough {
        case .passThrough:
            return (key, value)
        case let .generation(cache):
            // The cache holds values only: generation never back-propagates.
            var fullK = tape.detach(key), fullV = tape.detach(value)
            if let past = cache.layers[layer] {
                fullK = try tape.concat([past.key, fullK], axis: 1)
                fullV = try tape.concat([past.value, fullV], axis: 1)
            }
            cache.layers[layer] = (fullK, fullV)
            return (fullK, fullV)
        case let .recordPrompt(shared):
            guard shared.layers[layer] == nil else {
                throw HostCallError.invalid("kv_cache_append: layer \(layer) appended twice in one forward")
            }
            shared.layers[layer] = (key, value)
            return (key, value)
        case let .continuePrompt(shared):
            guard let prompt = shared.layers[layer] else {
                throw HostCallError.invalid("kv_cache_append: layer \(layer) kept no keys in the shared-prompt pass")
            }
            guard !shared.continued.contains(layer) else {
                throw HostCallError.invalid("kv_cache_append: layer \(layer) appended twice in one forward")
            }
            shared.continued.insert(layer)
            return (try tape.prefixed(key, with: prompt.key), try tape.prefixed(value, with: prompt.value))
        case let .packed(packing):
            return try packing.append(layer: layer, key: key, value: value)
        }
    }
}

/// How tensor parallelism may split a declared linear weight.
public enum ParallelStyle: String, Sendable {
    case none, column, row

    init?(abi: dph_parallel) {
        switch abi {
        case DPH_PARALLEL_NONE: self = .none
        case DPH_PARALLEL_COLUMN: self = .column
        case DPH_PARALLEL_ROW: self = .row
        default: return nil
        }
    }
}

/// A parameter a model plugin declared: HF name, shape, and its tensor-parallel style.
public struct ParameterSpec: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let parallel: ParallelStyle
    /// Other names the tensor has in checkpoints (`declare_parameter_alias`), tried in order when
    /// `name` is absent.
    public var aliases: [String] = []

    public init(name: String, shape: [Int], parallel: ParallelStyle = .none) {
        self.name = name
        self.shape = shape
        self.parallel = parallel
    }
}

/// What declared parameters may add up to: their float32 values alone must fit in the machine's
/// memory. Checked at each declaration, before anything is allocated, so a config.json with an
/// absurd size (a hidden size of 10^12, 10^9 layers) ends with an error naming the parameter
/// rather than an allocation failure or a loop over a billion layers.
struct ParameterBudget {
    let machineBytes: UInt64

    /// The bytes declared so far plus `spec`'s, or an error naming it when that is too much.
    func total(adding spec: ParameterSpec, to declared: Double) throws -> Double {
        guard spec.shape.allSatisfy({ $0 >= 1 }) else {
            throw HostCallError.invalid("parameter '\(spec.name)' has shape \(spec.shape): every dimension must be at least 1 (check the sizes in config.json)")
        }
        let total = declared + Self.bytes(spec.shape), limit = Double(machineBytes)
        guard total <= limit else {
            throw HostCallError.invalid("parameter '\(spec.name)' \(spec.shape) takes the model's float32 parameters to \(Self.describe(total)), more than this machine's \(Self.describe(limit)) of memory (check the sizes in config.json)")
        }
        return total
    }

    /// Bytes of float32 values of a shape, as a Double so no product overflows.
    static func bytes(_ shape: [Int]) -> Double { shape.reduce(4.0) { $0 * Double($1) } }

    static func describe(_ bytes: Double) -> String {
        let units = [("TiB", 1_099_511_627_776.0), ("GiB", 1_073_741_824.0), ("MiB", 1_048_576.0)]
        let (name, size) = units.first { bytes >= $0.1 } ?? ("KiB", 1024)
        return String(format: "%.3g %@", bytes / size, name)
    }
}
