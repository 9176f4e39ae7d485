import Autograd
import Checkpoint
import Configuration
import DataPipeline
import Foundation
import PluginHost
import TensorCore

/// One adapted linear: `y = x W + scale * dropout(x) Aᵀ Bᵀ` with `A [r, in]` and `B [out, r]`,
/// named as PEFT names them (`<module>.lora_A.weight`), whatever the layout of W.
public struct LoRAAdapter {
    /// The Hugging Face module path (`transformer.h.0.attn.c_attn`).
    public let module: String
    public let a: Variable
    public let b: Variable
    public let layout: LinearLayout

    public init(module: String, a: Variable, b: Variable, layout: LinearLayout) {
        self.module = module
        self.a = a
        self.b = b
        self.layout = layout
    }

    /// PEFT's names of A and B inside an adapter file.
    public var aName: String { "base_model.model.\(module).lora_A.weight" }
    public var bName: String { "base_model.model.\(module).lora_B.weight" }
}

/// A parameter of a `modules_to_save` module: trained in full as a copy while the base value
/// stays for the reference (PEFT's ModulesToSaveWrapper), named in adapter files as PEFT saves it.
public struct SavedModuleParameter {
    /// The model's parameter name (`embed_out.weight`).
    public let name: String
    /// The name as the `modules_to_save` entry matched it: the declared one or a checkpoint
    /// alias (`lm_head.weight`, transformers 5's name of Pythia's head), as peft will look it up.
    public let savedName: String
    public let copy: Variable
    public var peftName: String { "base_model.model.\(savedName)" }
}

/// The adapters of a model and the `linear` interceptor that applies them. Disabled, every
/// linear computes with the base weights alone: the reference model of LoRA DPO is the same
/// weights with the adapters off (`LanguageModel.withAdapters`).
public final class LoRAAdapters: LinearInterceptor {
    public let settings: LoRASettings
    public let adapters: [LoRAAdapter]
    /// The parameters of `modules_to_save`, handed to the plugin in place of the base ones.
    public let saved: [SavedModuleParameter]
    private var byWeight: [ObjectIdentifier: Int]
    private let savedByName: [String: Variable]
    /// Off while the model runs as the reference.
    public var enabled = true
    /// The base weight of each adapter (set by `attachLoRA`), for merging.
    var baseWeights: [Variable] = []
    private var dropoutState: MersenneTwister

    /// `weights[k]` is the identity of the base weight `adapters[k]` adapts.
    public init(settings: LoRASettings, adapters: [LoRAAdapter], weights: [ObjectIdentifier], seed: UInt32,
                saved: [SavedModuleParameter] = []) {
        self.settings = settings
        self.adapters = adapters
        self.saved = saved
        self.byWeight = Dictionary(uniqueKeysWithValues: weights.enumerated().map { ($1, $0) })
        self.savedByName = Dictionary(uniqueKeysWithValues: saved.map { ($0.name, $0.copy) })
        self.dropoutState = MersenneTwister(pythonSeed: seed &+ 1)
    }

    /// Overwrites A and B from `weights` by PEFT name (a checkpoint or a PEFT adapter file);
    /// every adapter must be there with its shape.
    public func load(_ weights: [String: Tensor], from source: String) throws {
        for p in parameters {
            guard let t = weights[p.name] else { throw ModelError.missingTensor(directory: source, tensor: p.name) }
            guard t.shape == p.variable.shape else {
                throw ModelError.shapeMismatch(file: source, tensor: p.name, expected: p.variable.shape, found: t.shape)
            }
            p.variable.value.pointer.update(from: t.pointer, count: t.count)
        }
    }

    /// PEFT's adapter_config.json for these adapters on the model in `baseModel`.
    public func peftConfig(baseModel: String) -> String {
        let targets = Array(Set(adapters.map { String($0.module.split(separator: ".").last ?? "") })).sorted()
        let conv1D = adapters.contains { $0.layout == .inOut }
        let object: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": settings.r, "lora_alpha": settings.alpha,
            "lora_dropout": settings.dropout, "target_modules": targets, "use_rslora": settings.useRSLoRA,
            "fan_in_fan_out": conv1D, "bias": "none", "base_model_name_or_path": baseModel, "inference_mode": true,
            "modules_to_save": settings.modulesToSave.isEmpty ? NSNull() : settings.modulesToSave as Any,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// A and B of every adapter, then the saved modules' copies, by PEFT name: what the
    /// optimizer updates and checkpoints hold.
    public var parameters: [NamedParameter] {
        adapters.flatMap { [NamedParameter(name: $0.aName, variable: $0.a), NamedParameter(name: $0.bName, variable: $0.b)] }
            + saved.map { NamedParameter(name: $0.peftName, variable: $0.copy) }
    }

    public func substitute(parameter name: String) -> Variable? { enabled ? savedByName[name] : nil }

    /// Finds the adapted weights again among `parameters` (the model's, after FSDP or 16-bit
    /// storage rebound them to new variables), by their names.
    func rebind(to parameters: [NamedParameter]) {
        let byName = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.variable) })
        let weights = adapters.compactMap { byName[$0.module + ".weight"] }
        guard weights.count == adapters.count else { return }
        byWeight = Dictionary(uniqueKeysWithValues: weights.enumerated().map { (ObjectIdentifier($1), $0) })
        baseWeights = weights
    }

    public func linear(_ x: Variable, weight: Variable, bias: Variable?, layout: LinearLayout, tape: Tape) throws -> Variable? {
        guard enabled, let k = byWeight[ObjectIdentifier(weight)] else { return nil }
        let adapter = adapters[k]
        let mask = settings.dropout > 0 && tape.isRecording ? dropoutMask(x.shape) : nil
        return try tape.loraLinear(x, weight: weight, bias: bias, layout: layout, a: adapter.a, b: adapter.b,
                                   scale: settings.scale, dropoutMask: mask)
    }

    /// Inverted dropout: kept elements scaled by 1/(1-p), as torch.nn.Dropout in training.
    private func dropoutMask(_ shape: [Int]) -> Tensor {
        let p = settings.dropout
        let mask = Tensor(zeros: shape)
        let keep = Float(1 / (1 - p))
        for i in 0..<mask.count where Double(dropoutState.next32()) / 4294967296.0 >= p { mask.pointer[i] = keep }
        return mask
    }
}

/// Why LoRA cannot be set up as asked.
public enum LoRAError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    case unknownTargets([String], available: [String])

    public var description: String {
        switch self {
        case let .invalid(m): return m
        case let .unknownTargets(names, available):
            return "lora.target_modules: \(names.joined(separator: ", ")) \(names.count == 1 ? "is" : "are") not a linear module of this model; its linear modules are \(available.joined(separator: ", ")) (or all-linear)"
        }
    }
}

extension LanguageModel {
    /// Adds LoRA adapters to the linears `settings` targets: a one-token forward first records
    /// which weights go through `linear` and in which layout; A starts as PEFT's
    /// Kaiming-uniform (bound 1/sqrt(in)), B at zero, so the adapted model starts equal to the base.
    /// The base weights are frozen by loading the model untrainable; only the adapters (and
    /// `modules_to_save`) train.
    public func attachLoRA(_ settings: LoRASettings, seed: UInt32) throws -> LoRAAdapters {
        guard settings.r > 0 else { throw LoRAError.invalid("lora.r must be >= 1, got \(settings.r)") }
        guard settings.alpha > 0, settings.alpha.isFinite else { throw LoRAError.invalid("lora.alpha must be > 0, got \(settings.alpha)") }
        guard settings.dropout >= 0, settings.dropout < 1 else { throw LoRAError.invalid("lora.dropout must be in [0, 1), got \(settings.dropout)") }
        let uses = try linearUses()
        // The output head (a projection onto the vocabulary, GPT-2's tied wte) is no linear to
        // adapt, as PEFT's all-linear leaves it out.
        let vocabulary = configInteger("vocab_size")
        let linears = parameters.compactMap { p -> (NamedParameter, LinearLayout)? in
            guard let use = uses[ObjectIdentifier(p.variable)], let u = use else { return nil }
            let outputs = u.layout == .outIn ? p.variable.shape[0] : p.variable.shape[1]
            return outputs == vocabulary ? nil : (p, u.layout)
        }
        let leaf = { (module: String) in String(module.split(separator: ".").last ?? "") }
        let available = Array(Set(linears.map { leaf(moduleOf($0.0.name)) })).sorted()
        let targets = settings.targetModules ?? LoRASettings.defaultTargets[modelType] ?? []
        guard !targets.isEmpty else {
            throw LoRAError.invalid("lora.target_modules: no default for model_type \(modelType); name them (\(available.joined(separator: ", "))) or all-linear")
        }
        let all = targets == ["all-linear"]
        // PEFT matches a module by its last name or by its whole path (its saved configs list paths).
        let matches = { (module: String, target: String) in module == target || module.hasSuffix("." + target) }
        let modules = linears.map { moduleOf($0.0.name) }
        let unknown = all ? [] : targets.filter { t in !modules.contains { matches($0, t) } }
        guard unknown.isEmpty else { throw LoRAError.unknownTargets(unknown, available: available) }
        var generator = MersenneTwister(pythonSeed: seed)
        var adapters: [LoRAAdapter] = [], weights: [ObjectIdentifier] = []
        for (p, layout) in linears {
            let module = moduleOf(p.name)
            guard all || targets.contains(where: { matches(module, $0) }) else { continue }
            let shape = p.variable.shape
            let (inputs, outputs) = layout == .outIn ? (shape[1], shape[0]) : (shape[0], shape[1])
            let a = Tensor(zeros: [settings.r, inputs])
            let bound = 1 / Double(inputs).squareRoot()
            for i in 0..<a.count { a.pointer[i] = Float((Double(generator.next32()) / 4294967296.0 * 2 - 1) * bound) }
            adapters.append(LoRAAdapter(module: module, a: Variable(a, requiresGrad: true),
                                        b: Variable(Tensor(zeros: [outputs, settings.r]), requiresGrad: true), layout: layout))
            weights.append(ObjectIdentifier(p.variable))
        }
        let lora = LoRAAdapters(settings: settings, adapters: adapters, weights: weights, seed: seed,
                                saved: try savedModules(settings.modulesToSave, adapted: Set(adapters.map(\.module)), matches: matches))
        lora.baseWeights = linears.filter { linear in all || targets.contains { matches(moduleOf(linear.0.name), $0) } }.map(\.0.variable)
        plugin.linearInterceptor = lora
        self.lora = lora
        return lora
    }
}

extension LanguageModel {
    /// Trainable copies of the parameters of each `modules_to_save` entry (matched as PEFT
    /// matches target modules); an entry that names no module, or an adapted one, is an error.
    func savedModules(_ names: [String], adapted: Set<String>, matches: (String, String) -> Bool) throws -> [SavedModuleParameter] {
        guard !names.isEmpty else { return [] }
        var out: [SavedModuleParameter] = []
        // Each parameter by its declared name and its checkpoint aliases.
        let named = parameters.flatMap { p in ([p.name] + (aliases[p.name] ?? [])).map { (p, $0) } }
        for entry in names {
            let members = named.filter { matches(moduleOf($0.1), entry) }
            guard !members.isEmpty else {
                // The modules outside the repeated blocks, which is what one saves in full.
                let outside = Set(named.map { moduleOf($0.1) }.filter { !$0.split(separator: ".").contains { $0.allSatisfy(\.isNumber) } }).sorted()
                throw LoRAError.invalid("lora.modules_to_save: \(entry) is not a module of this model; its modules outside the blocks are \(outside.joined(separator: ", "))")
            }
            for (p, savedName) in members {
                guard !adapted.contains(moduleOf(p.name)) else {
                    throw LoRAError.invalid("lora.modules_to_save: \(moduleOf(p.name)) is also a LoRA target; a module is either adapted or trained in full")
                }
                let value = currentValue(of: p).contiguous()
                let copy = Tensor(zeros: value.shape)
                copy.pointer.update(from: value.pointer, count: value.count)
                out.append(SavedModuleParameter(name: p.name, savedName: savedName, copy: Variable(copy, requiresGrad: true)))
            }
        }
        return out
    }
}

extension LanguageModel {
    /// Attaches the adapter of a PEFT folder (`adapter_config.json`, `adapter_model.safetensors`,
    /// as `peft` saves it): its rank, alpha, rsLoRA and target modules, then its A and B.
    public func loadPEFTAdapter(directory: String) throws -> LoRAAdapters {
        let configURL = URL(fileURLWithPath: directory).appendingPathComponent("adapter_config.json")
        let object: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any] else {
                throw LoRAError.invalid("\(configURL.path): not a JSON object")
            }
            object = o
        } catch let e as LoRAError { throw e } catch {
            throw LoRAError.invalid("\(configURL.path): cannot be read as JSON (\(error.localizedDescription))")
        }
        guard (object["peft_type"] as? String) == "LORA" else {
            throw LoRAError.invalid("\(configURL.path): peft_type \(object["peft_type"] ?? "missing") is not LORA")
        }
        if (object["use_dora"] as? Bool) == true { throw LoRAError.invalid("\(configURL.path): DoRA adapters (use_dora) are not supported") }
        for key in ["rank_pattern", "alpha_pattern"] where !((object[key] as? [String: Any]) ?? [:]).isEmpty {
            throw LoRAError.invalid("\(configURL.path): per-module \(key) is not supported")
        }
        guard let r = object["r"] as? Int, let alpha = (object["lora_alpha"] as? NSNumber)?.doubleValue else {
            throw LoRAError.invalid("\(configURL.path): needs integer r and a number lora_alpha")
        }
        let targets: [String]?
        switch object["target_modules"] {
        case let s as String: targets = [s]
        case let l as [String]: targets = l
        default: targets = nil
        }
        let settings = LoRASettings(r: r, alpha: alpha, dropout: 0, targetModules: targets,
                                    useRSLoRA: (object["use_rslora"] as? Bool) ?? false,
                                    modulesToSave: (object["modules_to_save"] as? [String]) ?? [])
        let lora = try attachLoRA(settings, seed: 0)
        let file = URL(fileURLWithPath: directory).appendingPathComponent("adapter_model.safetensors").path
        try lora.load(try SafeTensorsFile(path: file).copiedTensors(), from: file)
        return lora
    }
}

extension LanguageModel {
    /// Adds the PEFT adapter in `directory` into the weights for good, `W += scale * B A` in
    /// W's layout: an SFT stage's LoRA (its checkpoint folder holds the adapter files) or an
    /// adapter from elsewhere, so that the model computes what the adapted one computed.
    public func mergePEFTAdapter(directory: String) throws {
        let lora = try loadPEFTAdapter(directory: directory)
        defer { plugin.linearInterceptor = nil; self.lora = nil }
        let tape = Tape(pool: .serial, recording: false)
        for (adapter, weight) in zip(lora.adapters, lora.baseWeights) {
            // B [out, r] times A [r, in]: [out, in].
            let delta = try tape.linear(adapter.b, weight: adapter.a, layout: .inOut).value.contiguous()
            let (outputs, inputs) = (delta.shape[0], delta.shape[1])
            let w = weight.value.pointer, d = delta.pointer, s = lora.settings.scale
            for o in 0..<outputs {
                for i in 0..<inputs {
                    let k = adapter.layout == .outIn ? o * inputs + i : i * outputs + o
                    w[k] += s * d[o * inputs + i]
                }
            }
        }
        // Modules trained in full replace their base values.
        for module in lora.saved {
            guard let p = parameters.first(where: { $0.name == module.name }) else { continue }
            try p.variable.value.assign(module.copy.value)
        }
    }

    /// Whether `path` (a folder, or a weights file in one) holds a PEFT adapter beside it.
    public static func adapterFolder(of path: String) -> String? {
        var isDirectory: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? path : (path as NSString).deletingLastPathComponent
        return FileManager.default.fileExists(atPath: folder + "/adapter_config.json") ? folder : nil
    }
}

/// The module a parameter belongs to: its name without the last component (`...c_attn.weight`).
private func moduleOf(_ name: String) -> String { name.split(separator: ".").dropLast().joined(separator: ".") }
