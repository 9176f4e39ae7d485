import TensorCore
import Tokenizers

/// How a row's texts become tokens: the DPO reference's way or TRL's (config `tokenization`).
public enum TokenizationConvention: String, Sendable, Equatable, CaseIterable {
    case reference, trl
}

/// Length limits for one element (docs/spec/data.md §7).
public struct TruncationLimits: Sendable, Equatable {
    public var maxLength: Int
    public var maxPromptLength: Int
    /// TRL/EasyDeL `max_completion_length`: when set, the prompt is always cut to
    /// `maxPromptLength` and each response to this many tokens (EOS included), before the
    /// reference's whole-sequence rule; nil = the reference's rule alone.
    public var maxCompletionLength: Int?
    /// Under `.trl` only `maxLength` applies, to each whole row.
    public var convention: TokenizationConvention

    public init(maxLength: Int = 512, maxPromptLength: Int = 256, maxCompletionLength: Int? = nil,
                convention: TokenizationConvention = .reference) {
        self.maxLength = maxLength
        self.maxPromptLength = maxPromptLength
        self.maxCompletionLength = maxCompletionLength
        self.convention = convention
    }
}

/// A tokenized example: prompt, chosen and (preference mode) rejected sequences with their masks
/// and labels (prompt positions -100), plus the texts for logging and sampling.
public struct BatchElement: Sendable, Equatable {
    public var prompt: String
    public var chosenResponse: String
    public var rejectedResponse: String?
    public var promptIds: [Int32]
    public var chosenIds: [Int32]
    public var chosenLabels: [Int32]
    public var rejectedIds: [Int32]?
    public var rejectedLabels: [Int32]?
}

public enum DataError: Error, CustomStringConvertible, Equatable {
    case eosInText(field: String, prompt: String)
    case noRecords(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .eosInText(field, prompt):
            return "the \(field) text contains the EOS token (e.g. a literal end-of-text marker) in the example whose prompt starts \(String(prompt.prefix(60)).debugDescription)"
        case let .noRecords(what): return "no training examples: \(what)"
        case let .invalidArgument(what): return what
        }
    }
}

/// The reference's `tokenize_batch_element`: separate tokenization, EOS appended to each
/// response, then the two-stage truncation (docs/spec/data.md §7.1-7.2).
public struct ElementTokenizer {
    public let encoder: any Tokenizer
    public let limits: TruncationLimits

    public init(encoder: any Tokenizer, limits: TruncationLimits) {
        self.encoder = encoder
        self.limits = limits
    }

    /// `rejected == nil` builds an SFT element (chosen = the SFT target). `text` says what the
    /// strings hold: plain text, or a conversation rendered with its chat template.
    public func element(prompt: String, chosen: String, rejected: String?, mode: TruncationMode,
                        text: RowText = .plain) throws -> BatchElement {
        switch text {
        case .messages:
            throw DataError.invalidArgument("a conversational row reached tokenization unrendered (no chat template applied)")
        case .rendered:
            let parts = renderedParts(prompt: prompt, chosen: chosen, rejected: rejected)
            return limits.convention == .trl
                ? rowsCut(parts, prompt: prompt, chosen: chosen, rejected: rejected, mode: mode)
                : referenceCut(parts.prompt, parts.chosen, parts.rejected, prompt: prompt, chosen: chosen, rejected: rejected, mode: mode)
        case .plain:
            if limits.convention == .trl { return trlElement(prompt: prompt, chosen: chosen, rejected: rejected, mode: mode) }
        }
        let eos = encoder.eosTokenId
        // Separately, without BOS (add_special_tokens=False), as the references do.
        let p = encoder.encode(prompt)
        var c = encoder.encode(chosen)
        var r = rejected.map(encoder.encode)
        if p.contains(eos) { throw DataError.eosInText(field: "prompt", prompt: prompt) }
        if c.contains(eos) { throw DataError.eosInText(field: "chosen response", prompt: prompt) }
        if r?.contains(eos) == true { throw DataError.eosInText(field: "rejected response", prompt: prompt) }
        c.append(eos)
        r?.append(eos)
        return referenceCut(p, c, r, prompt: prompt, chosen: chosen, rejected: rejected, mode: mode)
    }

    /// The reference's two-stage truncation of a prompt and its responses (EOS included).
    func referenceCut(_ prompt: [Int32], _ chosen: [Int32], _ rejected: [Int32]?, prompt text: String, chosen chosenText: String,
                      rejected rejectedText: String?, mode: TruncationMode) -> BatchElement {
        var (p, c, r) = (prompt, chosen, rejected)
        if let cap = limits.maxCompletionLength {
            // TRL/EasyDeL semantics: each part is capped on its own (prompt to max_prompt_length,
            // responses to max_completion_length, EOS included), then the whole-sequence rule below.
            p = cut(p, to: limits.maxPromptLength, mode)
            c = Array(c.prefix(cap))
            r = r.map { Array($0.prefix(cap)) }
        }
        // SFT uses (prompt, target, target), so the longer response is the target itself.
        let longest = max(c.count, r?.count ?? 0)
        if p.count + longest > limits.maxLength {
            p = cut(p, to: limits.maxPromptLength, mode)
        }
        if p.count + longest > limits.maxLength {
            let room = max(0, limits.maxLength - limits.maxPromptLength)
            c = Array(c.prefix(room))
            r = r.map { Array($0.prefix(room)) }
        }
        let masked = [Int32](repeating: -100, count: p.count)
        return BatchElement(prompt: text, chosenResponse: chosenText, rejectedResponse: rejectedText,
                            promptIds: p, chosenIds: p + c, chosenLabels: masked + c,
                            rejectedIds: r.map { p + $0 }, rejectedLabels: r.map { masked + $0 })
    }

    private func cut(_ ids: [Int32], to n: Int, _ mode: TruncationMode) -> [Int32] {
        mode == .keepStart ? Array(ids.prefix(n)) : Array(ids.suffix(n))
    }

    /// A tokenized prompt and each prompt+response, split where they stop agreeing (TRL's
    /// `common_prefix_length`): the prompt part and each response's rest.
    struct Parts { let prompt: [Int32]; let chosen: [Int32]; let rejected: [Int32]? }

    func split(_ p: [Int32], _ pc: [Int32], _ pr: [Int32]?) -> Parts {
        let shared = min(Self.commonPrefix(p, pc), pr.map { Self.commonPrefix(p, $0) } ?? Int.max)
        return Parts(prompt: Array(p.prefix(shared)), chosen: Array(pc[shared...]), rejected: pr.map { Array($0[shared...]) })
    }

    /// TRL's collator: each whole row (prompt + response) cut to `maxLength` by `mode`, labels
    /// alike; `promptIds` is the prompt part before the cut.
    func rowsCut(_ parts: Parts, prompt: String, chosen: String, rejected: String?, mode: TruncationMode) -> BatchElement {
        let masked = [Int32](repeating: -100, count: parts.prompt.count)
        let row = { (response: [Int32]) in self.cut(parts.prompt + response, to: self.limits.maxLength, mode) }
        let labels = { (response: [Int32]) in self.cut(masked + response, to: self.limits.maxLength, mode) }
        return BatchElement(prompt: prompt, chosenResponse: chosen, rejectedResponse: rejected,
                            promptIds: parts.prompt, chosenIds: row(parts.chosen), chosenLabels: labels(parts.chosen),
                            rejectedIds: parts.rejected.map(row), rejectedLabels: parts.rejected.map(labels))
    }

    /// TRL 1.16's processing of a flat row: the EOS text appended to each response that does not
    /// end with it; the prompt and each prompt+response tokenized whole with the tokenizer's
    /// special tokens (Llama's BOS); the response starts where the tokenized prompt and both
    /// prompt+response sequences stop agreeing; each whole row is then cut to `maxLength` by
    /// `mode` (`rowsCut`). Rows whose prompt alone reaches `maxLength` are dropped before
    /// batching under keep_start (`trlPairFits`).
    func trlElement(prompt: String, chosen: String, rejected: String?, mode: TruncationMode) -> BatchElement {
        rowsCut(trlParts(prompt: prompt, chosen: chosen, rejected: rejected), prompt: prompt, chosen: chosen, rejected: rejected, mode: mode)
    }

    func trlParts(prompt: String, chosen: String, rejected: String?) -> Parts {
        // TRL appends the EOS text and the tokenizer splits it off again as the EOS token: the
        // text before it encoded, then the EOS id (not every tokenizer here splits special
        // tokens out of text).
        let eos = encoder.eosTokenId, eosText = encoder.token(for: eos) ?? ""
        let withEOS = { (response: String) -> [Int32] in
            let text = prompt + (!eosText.isEmpty && response.hasSuffix(eosText) ? String(response.dropLast(eosText.count)) : response)
            return self.encoder.encodeAsTransformers(text, addSpecialTokens: true) + [eos]
        }
        return split(encoder.encodeAsTransformers(prompt, addSpecialTokens: true), withEOS(chosen), rejected.map(withEOS))
    }

    /// A rendered conversation's parts: the template wrote every special token, and TRL
    /// tokenizes its output as it is (prompt and whole conversations, split where they part).
    func renderedParts(prompt: String, chosen: String, rejected: String?) -> Parts {
        let encode = { (text: String) in self.encoder.encodeAsTransformers(text, addSpecialTokens: false) }
        return split(encode(prompt), encode(chosen), rejected.map(encode))
    }

    /// Whether TRL keeps the pair: under keep_start a row whose prompt alone fills `maxLength`
    /// would keep no response token, and TRL drops it when preparing the dataset.
    public func trlPairFits(prompt: String, chosen: String, rejected: String?, mode: TruncationMode, text: RowText = .plain) -> Bool {
        guard mode == .keepStart else { return true }
        let parts = text == .rendered
            ? renderedParts(prompt: prompt, chosen: chosen, rejected: rejected)
            : trlParts(prompt: prompt, chosen: chosen, rejected: rejected)
        return parts.prompt.count < limits.maxLength
    }

    static func commonPrefix(_ a: [Int32], _ b: [Int32]) -> Int {
        var n = 0
        while n < a.count, n < b.count, a[n] == b[n] { n += 1 }
        return n
    }
}
