/// The parts of a Hugging Face `tokenizer.json` that byte-level BPE reads.
struct TokenizerJSONFile: Decodable {
    struct AddedTokenEntry: Decodable {
        var id: Int32
        var content: String
        var special: Bool?
        var normalized: Bool?
        var lstrip: Bool?
        var rstrip: Bool?
        var singleWord: Bool?

        private enum CodingKeys: String, CodingKey {
            case id, content, special, normalized, lstrip, rstrip
            case singleWord = "single_word"
        }
    }

    /// A normalizer, pre-tokenizer or decoder: a `type` plus the options used here.
    struct Component: Decodable {
        var type: String
        var normalizers: [Component]?
        var addPrefixSpace: Bool?
        var useRegex: Bool?

        private enum CodingKeys: String, CodingKey {
            case type, normalizers
            case addPrefixSpace = "add_prefix_space"
            case useRegex = "use_regex"
        }
    }

    struct Model: Decodable {
        var type: String?
        var vocab: [String: Int32]?
        var merges: MergeList?
        var byteFallback: Bool?
        var continuingSubwordPrefix: String?
        var endOfWordSuffix: String?

        private enum CodingKeys: String, CodingKey {
            case type, vocab, merges
            case byteFallback = "byte_fallback"
            case continuingSubwordPrefix = "continuing_subword_prefix"
            case endOfWordSuffix = "end_of_word_suffix"
        }
    }

    var addedTokens: [AddedTokenEntry]?
    var normalizer: Component?
    var preTokenizer: Component?
    var model: Model
    var decoder: Component?

    private enum CodingKeys: String, CodingKey {
        case addedTokens = "added_tokens"
        case normalizer
        case preTokenizer = "pre_tokenizer"
        case model, decoder
    }
}

/// BPE merges, written either as `"a b"` strings (classic files) or as `["a", "b"]` pairs
/// (tokenizers >= 0.20, which allows spaces inside tokens).
struct MergeList: Decodable {
    var pairs: [(String, String)]

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let strings = try? container.decode([String].self) {
            pairs = try strings.enumerated().map { index, merge in
                let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw DecodingError.dataCorruptedError(
                        in: container, debugDescription: "merge \(index) '\(merge)' is not two tokens separated by one space")
                }
                return (String(parts[0]), String(parts[1]))
            }
        } else if let lists = try? container.decode([[String]].self) {
            pairs = try lists.enumerated().map { index, merge in
                guard merge.count == 2 else {
                    throw DecodingError.dataCorruptedError(
                        in: container, debugDescription: "merge \(index) has \(merge.count) tokens, expected 2")
                }
                return (merge[0], merge[1])
            }
        } else {
            throw DecodingError.typeMismatch(
                MergeList.self,
                DecodingError.Context(codingPath: decoder.codingPath,
                                      debugDescription: "expected a list of \"a b\" strings or [a, b] pairs"))
        }
    }
}
