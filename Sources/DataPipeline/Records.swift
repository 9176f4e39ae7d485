import TensorCore

/// One prompt's record as every dataset produces it (docs/spec/data.md §1): candidate responses, preference
/// pairs `(preferred, dispreferred)` as indices into `responses`, and the SFT target.
public struct PromptRecord: Equatable, Sendable {
    public var responses: [String]
    public var pairs: [Pair]
    public var sftTarget: String

    public struct Pair: Equatable, Sendable {
        public let preferred: Int, dispreferred: Int
        public init(_ preferred: Int, _ dispreferred: Int) {
            self.preferred = preferred
            self.dispreferred = dispreferred
        }
    }

    public init(responses: [String], pairs: [Pair], sftTarget: String) {
        self.responses = responses
        self.pairs = pairs
        self.sftTarget = sftTarget
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
    public let text: RowText
    public private(set) var prompts: [String] = []
    private var table: [Key: PromptRecord] = [:]

    public init(name: String, truncationMode: TruncationMode, text: RowText = .plain) {
        self.name = name
        self.truncationMode = truncationMode
        self.text = text
    }

    /// Inserts or replaces the record of `prompt` (a replaced prompt keeps its first position).
    public mutating func set(_ prompt: String, _ record: PromptRecord) {
        let key = Key(prompt)
        if table[key] == nil { prompts.append(prompt) }
        table[key] = record
    }

    public func record(_ prompt: String) -> PromptRecord? { table[Key(prompt)] }

    public var records: [PromptRecord] { prompts.map { table[Key($0)]! } }

    public var pairCount: Int { table.values.reduce(0) { $0 + $1.pairs.count } }
}

/// One entry of the flat list the iterator shuffles: a prompt with its record and the truncation
/// mode of the dataset it came from (docs/spec/data.md §6).
public struct FlatPrompt: Sendable, Equatable {
    public let prompt: String
    public let record: PromptRecord
    public let truncationMode: TruncationMode
    public let text: RowText

    public init(prompt: String, record: PromptRecord, truncationMode: TruncationMode, text: RowText = .plain) {
        self.prompt = prompt
        self.record = record
        self.truncationMode = truncationMode
        self.text = text
    }

    /// The same prompt cut the other way (the `truncation_mode` config override).
    public func truncated(_ mode: TruncationMode) -> FlatPrompt {
        FlatPrompt(prompt: prompt, record: record, truncationMode: mode, text: text)
    }

    /// The same row with other texts (a conversation rendered).
    public func replacing(prompt: String, record: PromptRecord, text: RowText) -> FlatPrompt {
        FlatPrompt(prompt: prompt, record: record, truncationMode: truncationMode, text: text)
    }
}

extension Array where Element == PromptDataset {
    /// Datasets concatenated in the given order, prompts in record order; no mixing weights.
    public func flattened() -> [FlatPrompt] {
        flatMap { ds in ds.prompts.map { FlatPrompt(prompt: $0, record: ds.record($0)!, truncationMode: ds.truncationMode, text: ds.text) } }
    }
}
