import DPOHostSDK
#if canImport(Glibc)
import Glibc
#endif

/// The reference's `data[prompt]` dictionary: records keyed by prompt, kept in first-insertion
/// order (the order the host shuffles from, docs/spec/data.md §1.2).
public struct RecordTable {
    public struct Record {
        public var prompt: String
        public var responses: [String] = []
        /// (preferred, dispreferred) index pairs, flattened as the ABI takes them.
        public var pairs: [Int32] = []
        public var sftTarget = ""
        /// Per-response scores while building (SHP); never emitted.
        public var scores: [Double] = []

        public init(prompt: String) { self.prompt = prompt }

        public mutating func addPair(_ preferred: Int, _ dispreferred: Int) {
            pairs.append(Int32(preferred))
            pairs.append(Int32(dispreferred))
        }
    }

    public private(set) var records: [Record] = []
    private var index: [ExactText: Int] = [:]

    public init() {}

    public var count: Int { records.count }
    public var pairCount: Int { records.reduce(0) { $0 + $1.pairs.count / 2 } }

    /// The record of `prompt`, created empty at the end of the order when new.
    public mutating func update(_ prompt: String, _ body: (inout Record) throws -> Void) rethrows {
        let i: Int
        let key = ExactText(prompt)
        if let existing = index[key] {
            i = existing
        } else {
            i = records.count
            index[key] = i
            records.append(Record(prompt: prompt))
        }
        try body(&records[i])
    }

    public func contains(_ prompt: String) -> Bool { index[ExactText(prompt)] != nil }

    /// Sets every record's SFT target to its highest-scoring response (SHP, SE).
    public mutating func chooseHighestScoringTargets() {
        for i in records.indices {
            records[i].sftTarget = highestScoring(records[i].responses, scores: records[i].scores) ?? ""
            records[i].scores = []
        }
    }

    /// Emits every record, in order; `conversational`: the strings are JSON message lists.
    public func emit(to host: Host, conversational: Bool = false) throws {
        for r in records {
            try host.emitRecord(prompt: r.prompt, responses: r.responses, flatPairs: r.pairs, sftTarget: r.sftTarget,
                                conversational: conversational)
        }
    }
}

/// Python's `max(responses, key=lambda x: scores[responses.index(x)])`: a response is scored by
/// the FIRST occurrence of its text, and the earliest of equal maxima wins. Nil when empty.
public func highestScoring(_ responses: [String], scores: [Double]) -> String? {
    var firstScore: [ExactText: Double] = [:]
    var best: (text: String, score: Double)?
    for (text, score) in zip(responses, scores) {
        let key = firstScore[ExactText(text)] ?? score
        if firstScore[ExactText(text)] == nil { firstScore[ExactText(text)] = score }
        if best == nil || key > best!.score { best = (text, key) }
    }
    return best?.text
}

/// Text compared and hashed by its UTF-8 bytes, as Python compares `str`. Swift's `String ==`
/// is canonical equivalence, which would merge prompts such as "é" and "e\u{301}" that the
/// reference keeps apart (and it hashes through NFC, which is slow for long prompts).
public struct ExactText: Hashable {
    public let text: String

    public init(_ text: String) { self.text = text }

    public static func == (a: ExactText, b: ExactText) -> Bool {
        var a = a.text, b = b.text
        return a.withUTF8 { x in b.withUTF8 { y in x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0) } }
    }

    public func hash(into hasher: inout Hasher) {
        var t = text
        t.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
