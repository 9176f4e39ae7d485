import Configuration
import DataPipeline
import TensorCore
import Tokenizers

extension Array where Element == FlatPrompt {
    /// Every prompt cut with `mode` (the `truncation_mode` config key); nil keeps each dataset's own.
    public func truncating(_ mode: TruncationMode?) -> [FlatPrompt] {
        guard let mode else { return self }
        return map { $0.truncated(mode) }
    }

    /// Under `tokenization=trl`, without the pairs (SFT: prompts) TRL drops because the prompt
    /// alone reaches `max_length` (`ElementTokenizer.trlPairFits`); prompts left with no pair go
    /// too. Returns the kept prompts and how many pairs or prompts were dropped.
    public func droppingRowsTRLDrops(tokenizer: any Tokenizer, limits: TruncationLimits, sftMode: Bool) -> (kept: [FlatPrompt], dropped: Int) {
        guard limits.convention == .trl else { return (self, 0) }
        let elements = ElementTokenizer(encoder: tokenizer, limits: limits)
        var dropped = 0
        let kept: [FlatPrompt] = compactMap { item in
            let r = item.record
            if sftMode {
                let fits = elements.trlPairFits(prompt: item.prompt, chosen: r.sftTarget, rejected: nil, mode: item.truncationMode, text: item.text)
                if !fits { dropped += 1 }
                return fits ? item : nil
            }
            let pairs = r.pairs.filter {
                elements.trlPairFits(prompt: item.prompt, chosen: r.responses[$0.preferred],
                                     rejected: r.responses[$0.dispreferred], mode: item.truncationMode, text: item.text)
            }
            dropped += r.pairs.count - pairs.count
            guard !pairs.isEmpty else { return nil }
            guard pairs.count != r.pairs.count else { return item }
            var fewer = r
            fewer.pairs = pairs
            return item.replacing(record: fewer)
        }
        return (kept, dropped)
    }
}

extension TrainingConfig {
    /// The length limits and tokenization the config asks for.
    public var truncationLimits: TruncationLimits {
        TruncationLimits(maxLength: maxLength, maxPromptLength: maxPromptLength,
                         maxCompletionLength: maxCompletionLength, convention: tokenization)
    }
}
