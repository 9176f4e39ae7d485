import DatasetSupport
import DPOHostSDK

// A generic preference dataset in JSON Lines (docs/spec/data.md §5). Each row is either
//   {"prompt", "chosen", "rejected"}                  (TRL / EasyDeL: one pair per row), or
//   {"prompt", "responses", "pairs", "sft_target"}     (one record, pairs as [[i, j], ...]), or
// one of TRL's conversational layouts (message lists, rendered by the host with the model's chat
// template): an explicit `prompt` list, or `chosen`/`rejected` conversations sharing their first
// messages (the prompt, extracted as TRL's maybe_extract_prompt does, also when a string `prompt`
// sits beside them as in UltraFeedback). Without `prompt`, two strings split at a word boundary.
// A file is conversational or plain text throughout.
// Rows sharing a prompt merge as the reference's dictionary does: responses are appended (pair
// indices shifted), pairs appended, and the SFT target is the last row's (chosen, for flat rows).

enum JSONLDataset: RegisteredDataset {
    static let plugin = DatasetDescription(
        name: "jsonl",
        summary: "preference rows {prompt, chosen, rejected} or {prompt, responses, pairs, sft_target} from .jsonl(.gz)",
        options: [
            .init("path", DPH_OPTION_STRING, default: "",
                  help: "a .jsonl(.gz) file (the train split), or a folder with train.jsonl(.gz) and test.jsonl(.gz)"),
            .init("train_path", DPH_OPTION_STRING, default: "", help: "file of the train split (overrides path)"),
            .init("test_path", DPH_OPTION_STRING, default: "", help: "file of the test split (overrides path)"),
            LineLimit.option,
        ])

    static func load(host: Host, split: String) throws {
        try DatasetFiles.requireSplit(split, plugin: "jsonl")
        let path = try file(host: host, split: split)
        var table = RecordTable()
        var rows = 0
        var conversational: Bool?
        try JSONRow.forEach(path: path, maximumLineBytes: try LineLimit.read(host)) { row in
            rows += 1
            let isConversation: Bool
            if case .array? = row.fields["chosen"] { isConversation = true } else if case .array? = row.fields["prompt"] { isConversation = true } else {
                isConversation = false
            }
            if let kind = conversational, kind != isConversation {
                throw row.location.error("this row is \(isConversation ? "conversational (message lists)" : "plain text") but the rows before it are not: a file holds one kind")
            }
            conversational = isConversation
            let pair: (prompt: String, chosen: String, rejected: String)
            if isConversation {
                let m = try Conversation.split(row)
                pair = (Conversation.json(m.prompt), Conversation.json(m.chosen), Conversation.json(m.rejected))
            } else if row.fields["responses"] != nil {
                try addRecordRow(row, to: &table)
                return
            } else if row.fields["prompt"] == nil, row.fields["chosen"] != nil {
                let t = try row.strings(["chosen", "rejected"])
                pair = try Conversation.splitText(row, chosen: t[0], rejected: t[1])
            } else {
                let t = try row.strings(["prompt", "chosen", "rejected"])
                pair = (t[0], t[1], t[2])
            }
            table.update(pair.prompt) { r in
                r.addPair(r.responses.count, r.responses.count + 1)
                r.responses += [pair.chosen, pair.rejected]
                r.sftTarget = pair.chosen
            }
        }
        guard rows > 0 else { throw DPHError(Int32(DPH_ERR_FORMAT), "jsonl: no records in \(path) (empty dataset)") }
        host.log("\(split): \(rows) \(conversational == true ? "conversational " : "")rows from \(path) -> \(table.count) prompts, \(table.pairCount) pairs")
        try table.emit(to: host, conversational: conversational == true)
    }

    /// The split's file from `<split>_path`, else `path` (a folder, or the train file).
    static func file(host: Host, split: String) throws -> String {
        if let explicit = try host.optionNonEmptyString(split + "_path") { return explicit }
        guard let path = try host.optionNonEmptyString("path") else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "jsonl: set path=FILE (or a folder), or \(split)_path=FILE")
        }
        if DatasetFiles.isDirectory(path) {
            guard let file = try DatasetFiles.splitFile(in: path, split: split) else {
                throw DPHError(Int32(DPH_ERR_IO), "jsonl: no \(split).jsonl or \(split).jsonl.gz in \(path)")
            }
            return file
        }
        guard split == "train" else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT),
                           "jsonl: no file for split '\(split)': path=\(path) is the train file; set \(split)_path=FILE")
        }
        return path
    }

    static func addRecordRow(_ row: JSONRow, to table: inout RecordTable) throws {
        let t = try row.strings(["prompt", "sft_target"])
        guard case let .array(items) = try row.value("responses") else {
            throw row.location.error("type error: 'responses' is \(try row.value("responses").typeName), an array of strings expected")
        }
        let responses = try items.enumerated().map { k, item -> String in
            guard case let .string(s) = item else { throw row.location.error("type error: responses[\(k)] is \(item.typeName), a string expected") }
            return s
        }
        guard case let .array(pairItems) = try row.value("pairs") else {
            throw row.location.error("type error: 'pairs' is \(try row.value("pairs").typeName), an array of [i, j] expected")
        }
        let pairs = try pairItems.enumerated().map { k, item -> (Int, Int) in
            guard case let .array(ij) = item, ij.count == 2, case let .number(a) = ij[0], case let .number(b) = ij[1],
                  let i = Int(exactly: a), let j = Int(exactly: b), responses.indices.contains(i), responses.indices.contains(j) else {
                throw row.location.error("pairs[\(k)] must be [i, j] with indices into the \(responses.count) responses")
            }
            return (i, j)
        }
        table.update(t[0]) { r in
            let offset = r.responses.count
            for (i, j) in pairs { r.addPair(offset + i, offset + j) }
            r.responses += responses
            r.sftTarget = t[1]
        }
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { DatasetExport.abiVersion }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    DatasetExport.initialize(desc, as: JSONLDataset.self)
}
