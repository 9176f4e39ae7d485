import DatasetSupport
import DPOHostSDK

// StackExchange preferences (docs/spec/data.md §4) from a JSON Lines copy of the
// published Parquet shards (same field names). All rows are shuffled with numpy's
// default_rng(42).permutation(N) (what Hugging Face's shuffle(seed=42) does), `test` is the
// first int(N * 0.01) rows of that order and `train` the rest; HTML is stripped as the
// reference's strip_html_tags does; every answer pair is ordered by pm_score, ties preferring
// the LATER answer; a repeated question keeps its first position and its last row's content.

/// One question with its stripped answers, before the split decides whether it is used.
struct SEQuestion {
    let prompt: String
    let responses: [String]
    let scores: [Double]
}

enum SEDataset: RegisteredDataset {
    static let plugin = DatasetDescription(
        name: "se",
        summary: "StackExchange answer pairs by pm_score from local JSON Lines files (converted from the Parquet shards)",
        dataDirectory: .anyDepth,
        options: [
            .init("test_fraction", DPH_OPTION_FLOAT, default: "0.01",
                  help: "test = the first int(N * test_fraction) rows of the shuffled order, train = the rest"),
            .init("shuffle", DPH_OPTION_BOOL, default: "true",
                  help: "shuffle as HF datasets' shuffle(seed) (numpy default_rng permutation); false keeps file order"),
            .init("shuffle_seed", DPH_OPTION_INT, default: "42", help: "seed of the shuffle (the reference uses 42)"),
            LineLimit.option,
            .init("permutation_file", DPH_OPTION_STRING, default: "",
                  help: "text file with the row order to use instead (one 0-based row index per line, N lines)"),
        ])

    static func load(host: Host, split: String) throws {
        let files = try dataFiles(host: host, split: split)
        var questions: [SEQuestion?] = [] // nil: a row without answers (the reference would crash on it)
        for path in files {
            try JSONRow.forEach(path: path, maximumLineBytes: try LineLimit.read(host)) { row in questions.append(try question(row)) }
        }
        guard !questions.isEmpty else {
            throw DPHError(Int32(DPH_ERR_FORMAT), "se: no records in \(files.joined(separator: ", ")) (empty dataset)")
        }
        let order = try rowOrder(host: host, count: questions.count)
        let fraction = try host.optionFloat("test_fraction")
        guard (0...1).contains(fraction) else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "se: test_fraction must be within 0...1, got \(fraction)")
        }
        let testCount = Int((Double(questions.count) * fraction).rounded(.towardZero))
        let selected = split == "test" ? order[..<testCount] : order[testCount...]

        var table = RecordTable()
        var unanswered = 0
        for index in selected {
            guard let q = questions[index] else { unanswered += 1; continue }
            table.update(q.prompt) { r in
                // Assignment, not extension: a repeated question keeps only its last row.
                r.responses = q.responses
                r.pairs = pairs(scores: q.scores)
                r.sftTarget = highestScoring(q.responses, scores: q.scores) ?? ""
            }
        }
        host.log("\(split): \(selected.count) of \(questions.count) rows (test = first \(testCount) of the shuffled order); "
            + "skipped \(unanswered) without answers -> \(table.count) prompts, \(table.pairCount) pairs")
        try table.emit(to: host)
    }

    static func question(_ row: JSONRow) throws -> SEQuestion? {
        let html = try row.string("question")
        guard case let .array(answers) = try row.value("answers") else {
            throw row.location.error("type error: 'answers' is \(try row.value("answers").typeName), an array expected")
        }
        var responses: [String] = [], scores: [Double] = []
        for (k, answer) in answers.enumerated() {
            guard case let .object(fields) = answer else {
                throw row.location.error("type error: answers[\(k)] is \(answer.typeName), an object expected")
            }
            guard case let .string(text)? = fields["text"] else {
                throw row.location.error("answers[\(k)].text is \(fields["text"]?.typeName ?? "missing"), a string expected")
            }
            guard case let .number(score)? = fields["pm_score"] else {
                throw row.location.error("answers[\(k)].pm_score is \(fields["pm_score"]?.typeName ?? "missing"), a number expected")
            }
            responses.append(" " + HTMLStripper.strip(text))
            scores.append(score)
        }
        if responses.isEmpty { return nil }
        return SEQuestion(prompt: "\n\nHuman: " + HTMLStripper.strip(html) + "\n\nAssistant:", responses: responses, scores: scores)
    }

    /// Every (i, j), i < j, ordered by score; a tie makes the later answer preferred (docs/spec/data.md §4.3).
    static func pairs(scores: [Double]) -> [Int32] {
        var out: [Int32] = []
        for i in scores.indices {
            for j in (i + 1)..<scores.count {
                let (p, d) = scores[i] > scores[j] ? (i, j) : (j, i)
                out += [Int32(p), Int32(d)]
            }
        }
        return out
    }

    /// The order rows are split and read in: a permutation file, numpy's shuffle, or file order.
    static func rowOrder(host: Host, count n: Int) throws -> [Int] {
        if let path = try host.optionNonEmptyString("permutation_file") { return try readPermutation(path, count: n) }
        guard try host.optionBool("shuffle") else { return Array(0..<n) }
        let seed = try host.optionInt("shuffle_seed")
        guard (0...Int64(UInt32.max)).contains(seed) else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "se: shuffle_seed must be within 0...\(UInt32.max), got \(seed)")
        }
        return NumpyPermutation.permutation(count: n, seed: UInt32(seed))
    }

    static func readPermutation(_ path: String, count n: Int) throws -> [Int] {
        var order: [Int] = []
        var seen = [Bool](repeating: false, count: n)
        try LineReader.forEachLine(path: path) { line in
            if line.isBlank { return }
            let text = String(decoding: line.bytes, as: UTF8.self).trimmingCharacters(in: " \t\r")
            let at = Location(path: path, line: line.number)
            guard let i = Int(text) else { throw at.error("expected a row index, found \(text.debugDescription)") }
            guard (0..<n).contains(i) else { throw at.error("row index \(i) is outside the \(n) rows of the dataset") }
            guard !seen[i] else { throw at.error("row index \(i) appears twice") }
            seen[i] = true
            order.append(i)
        }
        guard order.count == n else {
            throw DPHError(Int32(DPH_ERR_FORMAT), "\(path): holds \(order.count) row indices but the dataset has \(n) rows")
        }
        return order
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let drop = Set(set.unicodeScalars)
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !drop.contains($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !drop.contains($0) })!
        return String(scalars[first...last])
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { DatasetExport.abiVersion }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    DatasetExport.initialize(desc, as: SEDataset.self)
}
