import Autograd
import CDPOHostSDK
import Foundation
import TensorCore

/// One configured instance of a plugin: its validated options, its private state (from
/// `create`) and, for models, a `ModelInstanceState`.
public final class PluginInstance {
    public let plugin: LoadedPlugin
    public let options: ResolvedOptions
    let strings = CStringPool()
    private(set) var state: UnsafeMutableRawPointer?

    /// A model plugin's config, parameters and forward call in progress; nil for other kinds.
    let model: ModelInstanceState?

    /// Validates `options` (name -> text) against the descriptor, then calls the plugin's `create`.
    public init(plugin: LoadedPlugin, options: [String: String] = [:]) throws {
        self.plugin = plugin
        self.options = try ResolvedOptions(plugin: plugin.name, specs: plugin.descriptor.options, given: options)
        model = plugin.kind == .model ? ModelInstanceState() : nil
        if let create = plugin.descriptor.raw.create {
            var out: UnsafeMutableRawPointer?
            try call("create", tape: Tape(pool: .serial, recording: false)) { create(HostAPI.table, $0, &out) }
            state = out
        }
    }

    deinit {
        if let destroy = plugin.descriptor.raw.destroy { destroy(state) }
    }

    /// Calls into the plugin with a fresh context; a failure status becomes `pluginFailed` with
    /// the plugin's message. The returned context holds what the call emitted.
    @discardableResult
    func call(_ name: String, tape: Tape, _ body: (OpaquePointer) -> Int32) throws -> CallContext {
        let ctx = CallContext(pluginName: plugin.name, instance: self, arena: TensorArena(tape: tape))
        let status = ctx.withPointer(body)
        guard status == Int32(DPH_OK) else { throw ctx.failure(call: name, status: status) }
        return ctx
    }

    /// An instance for the wrapper of one kind (`ModelPlugin`, `LossPlugin`, `DatasetPlugin`): a
    /// plugin of another kind is refused before its options are read or its `create` runs.
    convenience init(plugin: LoadedPlugin, options: [String: String], kind: PluginKind) throws {
        guard plugin.kind == kind else {
            throw PluginError.badDescriptor(path: plugin.path, detail: "plugin '\(plugin.name)' is a \(plugin.kind) plugin, not a \(kind) plugin")
        }
        try self.init(plugin: plugin, options: options)
    }
}

/// One model forward call as the host functions the plugin calls back see it: what
/// `kv_cache_append` does with each layer's keys and values, and which rows of the output
/// `lm_head` computes. `ModelPlugin` makes one per call; the keys it refers to are passed in
/// explicitly (generation's cache, or a shared prompt's recorded keys).
final class ForwardPass {
    enum Keys {
        /// Keys and values pass through unchanged (training, evaluation).
        case passThrough
        /// Each layer's keys and values are appended (detached) to the cache and returned whole:
        /// generation, a few tokens at a time.
        case generation(KeyValueCache)
        /// The pass over a prompt that several rows share: each layer's keys and values are kept
        /// in the cache as they are (on the tape, so gradients reach the prompt's activations); no
        /// logit of the pass is read, so `lm_head` is asked for no rows and the plugin is told
        /// `keys_only`.
        case recordPrompt(KeyValueCache)
        /// The pass over the rows that continue from the recorded prompt: row r attends to prompt
        /// row `r % prompts` (the recorded keys repeated along the batch) and then to its own keys.
        case continuePrompt(KeyValueCache)
        /// Shared prompts and the rows that continue from them in one sequence: keys and values
        /// pass through, and `attention` and `lm_head` take the packing apart.
        case packed(PackedPrompt)
    }

    let keys: Keys
    /// Rows of the output `lm_head` computes (nil: all of them).
    let logitRows: RowSelection?

    init(keys: Keys, logitRows: RowSelection?) {
        self.keys = keys
        self.logitRows = logitRows
    }

    var passesKeysThrough: Bool { if case .passThrough = keys { return true } else { return false } }

    /// The packing of this forward, nil unless it runs shared prompts and rows as one sequence.
    var packing: PackedPrompt? { if case let .packed(p) = keys { return p } else { return nil } }
}

/// Each layer's keys and values, and (for a shared prompt) the layers the continuation read.
final class KeyValueCache {
    var layers: [Int32: (key: Variable, value: Variable)] = [:]
    var continued: Set<Int32> = []
}

/// A parsed HF config.json with dotted-key lookups.
struct ConfigJSON {
    let text: String
    private let root: [String: Any]

    init(text: String) throws {
        guard let data = text.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
            throw HostCallError(status: Int32(DPH_ERR_FORMAT), message: "config.json is not a JSON object")
        }
        self.text = text
        self.root = dict
    }

    /// The value at `key` ("a.b.c"), nil when absent or JSON null.
    func value(_ key: String) -> Any? {
        var cur: Any = root
        for part in key.split(separator: ".") {
            guard let dict = cur as? [String: Any], let next = dict[String(part)] else { return nil }
            cur = next
        }
        return cur is NSNull ? nil : cur
    }
}
