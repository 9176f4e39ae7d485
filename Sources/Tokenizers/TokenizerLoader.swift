import Foundation

/// Builds the right tokenizer for a model folder from the files it holds.
public enum TokenizerLoader {
    /// - `tokenizer.model` with a Llama (or no) `tokenizer_class` -> `SentencePieceTokenizer`;
    /// - otherwise `tokenizer.json` -> `ByteLevelBPETokenizer` (preferred over the classic pair);
    /// - otherwise `vocab.json` + `merges.txt` -> `ByteLevelBPETokenizer`.
    public static func load(directory: URL) throws -> any Tokenizer {
        let has = { (name: String) in JSONFile.exists(directory.appendingPathComponent(name)) }
        let configuration = try SpecialTokenConfiguration.read(from: directory)
        if has("tokenizer.model") {
            let tokenizerClass = configuration.tokenizerClass ?? "LlamaTokenizer"
            if tokenizerClass.hasPrefix("Llama") {
                return try SentencePieceTokenizer(directory: directory)
            }
            if !has("tokenizer.json") && !has("vocab.json") {
                throw TokenizerError.unsupported(
                    path: directory.appendingPathComponent("tokenizer_config.json").path,
                    feature: "tokenizer_class '\(tokenizerClass)' with tokenizer.model (only LlamaTokenizer is supported)")
            }
        }
        if has("tokenizer.json") {
            return try ByteLevelBPETokenizer(tokenizerJSONIn: directory)
        }
        if has("vocab.json") && has("merges.txt") {
            return try ByteLevelBPETokenizer(vocabularyAndMergesIn: directory)
        }
        if has("vocab.json") {
            throw TokenizerError.missingTokenizerFile(directory: directory.path, expected: "merges.txt next to vocab.json")
        }
        throw TokenizerError.missingTokenizerFile(
            directory: directory.path,
            expected: "tokenizer.model, tokenizer.json, or vocab.json + merges.txt")
    }
}
