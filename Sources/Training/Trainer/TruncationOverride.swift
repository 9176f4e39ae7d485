import DataPipeline

extension Array where Element == FlatPrompt {
    /// Every prompt cut with `mode` (the `truncation_mode` config key); nil keeps each dataset's own.
    public func truncating(_ mode: TruncationMode?) -> [FlatPrompt] {
        guard let mode else { return self }
        return map { $0.truncated(mode) }
    }
}
