import Autograd
import CDPOHostSDK
import DataPipeline
import TensorCore

extension PromptRecord {
    /// A dataset plugin's record, every string and array copied out of the plugin's buffers.
    init(copying r: dph_record) throws {
        let expected = UInt32(MemoryLayout<dph_record>.size)
        // The size before `content` was appended is that of plugins built before it (text).
        let older = UInt32(MemoryLayout<dph_record>.offset(of: \dph_record.content)!)
        guard r.struct_size == expected || r.struct_size == older else {
            throw HostCallError.invalid("record struct_size is \(r.struct_size), expected \(expected)")
        }
        var text = RowText.plain
        if r.struct_size != older {
            guard r.content == DPH_RECORD_TEXT || r.content == DPH_RECORD_MESSAGES else {
                throw HostCallError.invalid("record content \(r.content.rawValue) is neither DPH_RECORD_TEXT nor DPH_RECORD_MESSAGES")
            }
            if r.content == DPH_RECORD_MESSAGES { text = .messages }
        }
        let prompt = try requireString(r.prompt, "record prompt")
        let sftTarget = try requireString(r.sft_target, "record sft_target")
        guard r.n_responses >= 0, r.n_pairs >= 0 else { throw HostCallError.invalid("negative response or pair count") }
        guard r.n_responses == 0 || r.responses != nil else { throw HostCallError.invalid("record responses is NULL") }
        let responses = try (0..<Int(r.n_responses)).map { try requireString(r.responses![$0], "response \($0)") }
        guard r.n_pairs == 0 || r.pairs != nil else { throw HostCallError.invalid("record pairs is NULL") }
        var pairs: [Pair] = []
        for i in 0..<Int(r.n_pairs) {
            let a = Int(r.pairs![2 * i]), b = Int(r.pairs![2 * i + 1])
            guard responses.indices.contains(a), responses.indices.contains(b) else {
                throw HostCallError(status: Int32(DPH_ERR_INDEX),
                                    message: "pair (\(a), \(b)) of prompt \(prompt.debugDescription.prefix(60)) is outside its \(responses.count) responses")
            }
            pairs.append(Pair(a, b))
        }
        self.init(prompt: prompt, responses: responses, pairs: pairs, sftTarget: sftTarget, text: text)
    }
}

/// A dataset plugin instance: yields the ordered records of a split.
public struct DatasetPlugin {
    public let instance: PluginInstance
    private let vtable: dph_dataset_vtable

    public init(_ plugin: LoadedPlugin, options: [String: String] = [:]) throws {
        instance = try PluginInstance(plugin: plugin, options: options, kind: .dataset)
        vtable = PluginDescriptor.vtable(plugin.descriptor.raw.dataset, empty: dph_dataset_vtable())!
    }

    public var truncationMode: TruncationMode { vtable.truncation_mode == DPH_KEEP_END ? .keepEnd : .keepStart }

    /// The records of `split` in the order the plugin emitted them.
    public func load(split: String) throws -> [PromptRecord] {
        let load = vtable.load!
        let state = instance.state
        let ctx = try split.withCString { s in
            try instance.call("load(\(split))", tape: Tape(pool: .serial, recording: false)) { load(HostAPI.table, $0, state, s) }
        }
        return ctx.records
    }
}
