import DatasetSupport
import DPOHostSDK
#if canImport(Glibc)
import Glibc
#endif

// Anthropic HH-RLHF (docs/spec/data.md §2): {"chosen", "rejected"} transcripts; the prompt is the
// chosen text up to and including its LAST "\n\nAssistant:", and the rejected transcript is cut
// at that same offset without checking its prefix, as the reference does (docs/spec/exactness.md,
// "HH's prompt split").

enum HHDataset: RegisteredDataset {
    static let plugin = DatasetDescription(
        name: "hh",
        summary: "Anthropic HH-RLHF preference pairs from local .jsonl/.jsonl.gz files",
        dataDirectory: .splitFiles(extensions: "jsonl(.gz)", subfolders: "subset", example: "harmless-base/train.jsonl.gz"),
        options: [LineLimit.option],
        truncationMode: DPH_KEEP_END)

    static let marker = Array("\n\nAssistant:".utf8)

    static func load(host: Host, split: String) throws {
        let files = try dataFiles(host: host, split: split)
        var table = RecordTable()
        var rows = 0, prefixMismatches = 0
        for path in files {
            try JSONRow.forEach(path: path, maximumLineBytes: try LineLimit.read(host)) { row in
                let texts = try row.strings(["chosen", "rejected"])
                guard let parts = cut(chosen: texts[0], rejected: texts[1]) else {
                    throw row.location.error("cannot split prompt: the chosen transcript has no \"\\n\\nAssistant:\"")
                }
                rows += 1
                if !parts.samePrefix { prefixMismatches += 1 }
                table.update(parts.prompt) { r in
                    r.addPair(r.responses.count, r.responses.count + 1)
                    r.responses += [parts.chosen, parts.rejected]
                    r.sftTarget = parts.chosen // the last occurrence wins
                }
            }
        }
        guard rows > 0 else {
            throw DPHError(Int32(DPH_ERR_FORMAT), "hh: no records in \(files.joined(separator: ", ")) (empty dataset)")
        }
        host.log("\(split): \(rows) rows from \(files.count) file\(files.count == 1 ? "" : "s") -> \(table.count) prompts, "
            + "\(table.pairCount) pairs; \(prefixMismatches) rows whose rejected transcript does not start with the prompt")
        try table.emit(to: host)
    }

    /// (prompt, chosen response, rejected response, whether rejected shares the prompt), or nil
    /// when the chosen text has no marker. Python slices by code points, so the rejected cut
    /// counts Unicode scalars when the bytes differ.
    static func cut(chosen: String, rejected: String)
        -> (prompt: String, chosen: String, rejected: String, samePrefix: Bool)? {
        let c = Array(chosen.utf8)
        guard c.count >= marker.count else { return nil }
        var k = c.count - marker.count
        while k >= 0 {
            if c[k] == marker[0] && c[k..<(k + marker.count)].elementsEqual(marker) { break }
            k -= 1
        }
        guard k >= 0 else { return nil }
        let promptEnd = k + marker.count
        let prompt = String(decoding: c[..<promptEnd], as: UTF8.self)
        let chosenResponse = String(decoding: c[promptEnd...], as: UTF8.self)
        let r = Array(rejected.utf8)
        if r.count >= promptEnd && memcmp(r, c, promptEnd) == 0 {
            return (prompt, chosenResponse, String(decoding: r[promptEnd...], as: UTF8.self), true)
        }
        let cut = prompt.unicodeScalars.count
        let rest = String(String.UnicodeScalarView(rejected.unicodeScalars.dropFirst(cut)))
        return (prompt, chosenResponse, rest, false)
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { DatasetExport.abiVersion }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    DatasetExport.initialize(desc, as: HHDataset.self)
}
