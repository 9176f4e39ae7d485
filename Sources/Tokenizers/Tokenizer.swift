/// Text <-> token ids for one model family. Implementations are immutable after loading, so one
/// instance can be shared by every worker.
public protocol Tokenizer: Sendable {
    /// Number of ids the tokenizer can produce (base vocabulary plus added tokens).
    var vocabularySize: Int { get }
    var bosTokenId: Int32? { get }
    var eosTokenId: Int32 { get }
    /// The configured pad id, or the EOS id when the model has none (as the DPO trainer pads).
    var padTokenId: Int32 { get }
    var unknownTokenId: Int32? { get }

    /// Encodes without BOS/EOS (`add_special_tokens=False`), as the DPO references always call it.
    func encode(_ text: String) -> [Int32]
    /// Encodes; `addSpecialTokens` adds BOS/EOS as the family's Hugging Face tokenizer does.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32]
    /// Encodes as transformers 5 does (what TRL 1.16 tokenizes with): special tokens written in
    /// the text are split out first. Differs from `encode` only for Llama's sentencepiece.
    func encodeAsTransformers(_ text: String, addSpecialTokens: Bool) -> [Int32]
    /// Decodes; ids outside the vocabulary are ignored.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String
    /// The vocabulary string of `id` (byte-level or `▁` form), or nil when out of range.
    func token(for id: Int32) -> String?
}

extension Tokenizer {
    public func encode(_ text: String) -> [Int32] {
        encode(text, addSpecialTokens: false)
    }

    public func decode(_ ids: [Int32]) -> String {
        decode(ids, skipSpecialTokens: false)
    }

    public func encodeAsTransformers(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        encode(text, addSpecialTokens: addSpecialTokens)
    }
}
