import DatasetSupport
import DPOHostSDK

// Stanford Human Preferences (docs/spec/data.md §3): a row is kept only when
// max(sA/sB, sB/sA) >= 2; `labels == 1` means A is preferred; the SFT target is the
// highest-scoring response with first-occurrence ties; no cap on pairs per post by default.

enum SHPDataset: RegisteredDataset {
    static let plugin = DatasetDescription(
        name: "shp",
        summary: "Stanford SHP comment pairs (score ratio >= 2) from local JSON Lines files",
        dataDirectory: .splitFiles(extensions: "json(l)(.gz)", subfolders: "domain", example: "askculinary/train.json"),
        options: [
            .init("max_pairs_per_prompt", DPH_OPTION_INT, default: "0",
                  help: "keep at most this many pairs per post, in file order (0 = no cap, as the reference)"),
            LineLimit.option,
        ])

    static func load(host: Host, split: String) throws {
        let files = try dataFiles(host: host, split: split)
        let cap = try host.optionInt("max_pairs_per_prompt")
        guard cap >= 0 else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "shp: max_pairs_per_prompt must be >= 0, got \(cap)")
        }
        var table = RecordTable()
        var rows = 0, lowRatio = 0, zeroScore = 0, capped = 0
        for path in files {
            try JSONRow.forEach(path: path, maximumLineBytes: try LineLimit.read(host)) { row in
                rows += 1
                let texts = try row.strings(["history", "human_ref_A", "human_ref_B"])
                let a = try row.number("score_A"), b = try row.number("score_B")
                let aPreferred = try row.integer("labels") == 1
                let prompt = "\n\nHuman: " + texts[0] + "\n\nAssistant:"
                // The reference divides by zero here; such rows are skipped and counted instead.
                if a == 0 || b == 0 { zeroScore += 1; return }
                if max(a / b, b / a) < 2 { lowRatio += 1; return }
                if cap > 0, table.contains(prompt) {
                    var full = false
                    table.update(prompt) { full = $0.pairs.count / 2 >= cap }
                    if full { capped += 1; return }
                }
                table.update(prompt) { r in
                    let n = r.responses.count
                    if aPreferred { r.addPair(n, n + 1) } else { r.addPair(n + 1, n) }
                    r.responses += [" " + texts[1], " " + texts[2]]
                    r.scores += [a, b]
                }
            }
        }
        guard rows > 0 else {
            throw DPHError(Int32(DPH_ERR_FORMAT), "shp: no records in \(files.joined(separator: ", ")) (empty dataset)")
        }
        table.chooseHighestScoringTargets()
        host.log("\(split): \(rows) rows from \(files.count) file\(files.count == 1 ? "" : "s"); skipped \(lowRatio) "
            + "with score ratio < 2, \(zeroScore) with a zero score, \(capped) over max_pairs_per_prompt -> "
            + "\(table.count) prompts, \(table.pairCount) pairs")
        try table.emit(to: host)
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { DatasetExport.abiVersion }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    DatasetExport.initialize(desc, as: SHPDataset.self)
}
