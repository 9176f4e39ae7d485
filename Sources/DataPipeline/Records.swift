import TensorCore

/// One prompt's record (docs/spec/data.md §1): the prompt, candidate responses, preference pairs
/// `(preferred, dispreferred)` as indices into `responses`, the SFT target, and what the strings
/// hold. The one Swift form of a record: a dataset plugin's `dph_record` is copied into it
/// (PluginHost), and the data pipeline reads it.
public struct PromptRecord: Equatable, Sendable {
    public var prompt: String
    public var responses: [String]
    public var pairs: [Pair]
    public var sftTarget: String
    public var text: RowText

    public struct Pair: Equatable, Sendable {
        public let preferred: Int, dispreferred: Int
        public init(_ preferred: Int, _ dispreferred: Int) {
            self.preferred = preferred
            self.dispreferred = dispreferred
        }
    }

    public init(prompt: String, responses: [String], pairs: [Pair], sftTarget: String, text: RowText = .plain) {
        self.prompt = prompt
        self.responses = responses
        self.pairs = pairs
        self.sftTarget = sftTarget
        self.text = text
    }
}

/// What a row's strings hold.
public enum RowText: String, Sendable, Equatable {
    /// Plain text: the prompt, and each response that follows it.
    case plain
    /// JSON arrays of chat messages (`DPH_RECORD_MESSAGES`), not yet rendered.
    case messages
    /// Rendered with the model's chat template: the prompt with the generation prompt, and each
    /// response as the whole conversation it ends (`ConversationRenderer`); tokenized as the
    /// template wrote them, with no special tokens or EOS added.
    case rendered
}

/// A dataset split: prompts in first-insertion order (the order matters for bit-exact shuffling).
/// Prompts are told apart by their exact UTF-8 bytes, as Python's dict keys are: Swift's `==`
/// would merge canonically equivalent texts ("é" and "e" + U+0301) that the reference keeps apart.
public struct PromptDataset: Sendable {
    struct Key: Hashable, Sendable {
        let bytes: [UInt8]
        init(_ s: String) { bytes = Array(s.utf8) }
    }

    public let name: String
    public let truncationMode: TruncationMode
    public private(set) var prompts: [String] = []
    private var table: [Key: PromptRecord] = [:]

    public init(name: String, truncationMode: TruncationMode) {
        self.name = name
        self.truncationMode = truncationMode
    }

    /// What the rows' strings hold (a dataset's rows are all of one kind: `DatasetSource` checks).
    public var text: RowText { prompts.first.flatMap { table[Key($0)]?.text } ?? .plain }

    /// Inserts or replaces the record of its prompt (a replaced prompt keeps its first position).
    public mutating func set(_ record: PromptRecord) {
        let key = Key(record.prompt)
        if table[key] == nil { prompts.append(record.prompt) }
        table[key] = record
    }

    public func record(_ prompt: String) -> PromptRecord? { table[Key(prompt)] }

    public var records: [PromptRecord] { prompts.map { table[Key($0)]! } }

    public var pairCount: Int { table.values.reduce(0) { $0 + $1.pairs.count } }
}

/// One entry of the flat list the iterator shuffles: a record with the truncation mode of the
/// dataset it came from (docs/spec/data.md §6).
public struct FlatPrompt: Sendable, Equatable {
    public let record: PromptRecord
    public let truncationMode: TruncationMode

    public init(record: PromptRecord, truncationMode: TruncationMode) {
        self.record = record
        self.truncationMode = truncationMode
    }

    public var prompt: String { record.prompt }
    public var text: RowText { record.text }

    /// The same prompt cut the other way (the `truncation_mode` config override).
    public func truncated(_ mode: TruncationMode) -> FlatPrompt {
        FlatPrompt(record: record, truncationMode: mode)
    }

    /// The same row with another record (a conversation rendered, pairs dropped).
    public func replacing(record: PromptRecord) -> FlatPrompt {
        FlatPrompt(record: record, truncationMode: truncationMode)
    }
}

extension Array where Element == PromptDataset {
    /// Datasets concatenated in the given order, prompts in record order; no mixing weights.
    public func flattened() -> [FlatPrompt] {
        flatMap { ds in ds.records.map { FlatPrompt(record: $0, truncationMode: ds.truncationMode) } }
    }
}
