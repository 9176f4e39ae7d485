import Foundation

/// GPT-2 / GPT-NeoX byte-level BPE, matching Hugging Face's fast tokenizers:
/// added tokens are split out first, the rest is normalized, cut with the GPT-2 pattern, mapped
/// byte-wise to the byte-level alphabet and merged with BPE.
public struct ByteLevelBPETokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosTokenId: Int32?
    public let eosTokenId: Int32
    public let padTokenId: Int32
    public let unknownTokenId: Int32?

    private let encoder: BytePairEncoder
    private let preTokenizer = GPT2PreTokenizer()
    private let normalizer: Normalizer?
    private let addPrefixSpace: Bool
    /// Added tokens matched in the raw text, then those matched after normalization.
    private let rawTokenMatcher: AddedTokenMatcher
    private let normalizedTokenMatcher: AddedTokenMatcher
    /// Token string and decoded bytes of every id (nil for holes in the id range).
    private let tokens: [String?]
    private let tokenBytes: [[UInt8]?]
    private let specialIds: Set<Int32>
    private let addsBos: Bool
    private let addsEos: Bool

    /// Loads `tokenizer.json` from `directory`, with special tokens from its side files.
    public init(tokenizerJSONIn directory: URL) throws {
        let configuration = try Self.configuration(in: directory)
        let definition = try ByteLevelBPEDefinition.read(
            tokenizerJSON: directory.appendingPathComponent("tokenizer.json"))
        try self.init(definition: definition, configuration: configuration, directory: directory)
    }

    /// Loads the classic `vocab.json` + `merges.txt` from `directory`, with added and special
    /// tokens from tokenizer_config.json, special_tokens_map.json and added_tokens.json.
    public init(vocabularyAndMergesIn directory: URL) throws {
        let configuration = try Self.configuration(in: directory)
        let definition = try ByteLevelBPEDefinition.read(
            vocabulary: directory.appendingPathComponent("vocab.json"),
            merges: directory.appendingPathComponent("merges.txt"),
            configuration: configuration)
        try self.init(definition: definition, configuration: configuration, directory: directory)
    }

    init(definition: ByteLevelBPEDefinition, configuration: SpecialTokenConfiguration, directory: URL) throws {
        let alphabet = ByteLevelAlphabet()
        encoder = try BytePairEncoder(vocabulary: definition.vocabulary, merges: definition.merges,
                                      alphabet: alphabet, file: definition.sourcePath)
        normalizer = definition.normalizer
        addPrefixSpace = definition.addPrefixSpace
        rawTokenMatcher = AddedTokenMatcher(definition.addedTokens.filter { !$0.normalized })
        normalizedTokenMatcher = AddedTokenMatcher(definition.addedTokens.filter(\.normalized))

        let maxId = max(definition.vocabulary.values.max() ?? -1, definition.addedTokens.map(\.id).max() ?? -1)
        var tokens = [String?](repeating: nil, count: Int(maxId) + 1)
        for (token, id) in definition.vocabulary where id >= 0 {
            tokens[Int(id)] = token
        }
        var addedIds: [String: Int32] = [:]
        for token in definition.addedTokens where token.id >= 0 {
            tokens[Int(token.id)] = token.content
            addedIds[token.content] = token.id
        }
        self.tokens = tokens
        tokenBytes = tokens.map { $0.map(alphabet.bytes(ofToken:)) }
        vocabularySize = tokens.count

        let lookup = { (name: String) in addedIds[name] ?? definition.vocabulary[name] }
        guard let eos = configuration.id(of: .eos, lookup: lookup) else {
            throw TokenizerError.missingSpecialToken(name: "eos", directory: directory.path)
        }
        eosTokenId = eos
        bosTokenId = configuration.id(of: .bos, lookup: lookup)
        unknownTokenId = configuration.id(of: .unk, lookup: lookup)
        let pad = configuration.id(of: .pad, lookup: lookup)
        padTokenId = pad ?? eos
        // Like transformers' all_special_ids: special added tokens plus the named special tokens.
        specialIds = Set(definition.addedTokens.filter(\.special).map(\.id))
            .union([bosTokenId, eosTokenId, unknownTokenId, pad].compactMap { $0 })
        addsBos = configuration.addBosToken ?? false
        addsEos = configuration.addEosToken ?? false
    }

    /// The folder's special-token settings; GPT2Tokenizer and GPTNeoXTokenizer default
    /// bos/eos/unk to "<|endoftext|>".
    private static func configuration(in directory: URL) throws -> SpecialTokenConfiguration {
        try SpecialTokenConfiguration.read(from: directory).naming([.bos, .eos, .unk], byDefault: "<|endoftext|>")
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var ids: [Int32] = []
        if addSpecialTokens && addsBos, let bos = bosTokenId {
            ids.append(bos)
        }
        for segment in rawTokenMatcher.split(text) {
            switch segment {
            case let .token(id):
                ids.append(id)
            case let .text(raw):
                let normalized = normalizer?.apply(raw) ?? raw
                for inner in normalizedTokenMatcher.split(normalized) {
                    switch inner {
                    case let .token(id): ids.append(id)
                    case let .text(plain): appendModelIds(of: plain, to: &ids)
                    }
                }
            }
        }
        if addSpecialTokens && addsEos {
            ids.append(eosTokenId)
        }
        return ids
    }

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < tokenBytes.count {
            if skipSpecialTokens && specialIds.contains(id) {
                continue
            }
            if let tokenBytes = tokenBytes[Int(id)] {
                bytes.append(contentsOf: tokenBytes)
            }
        }
        // Invalid UTF-8 (a character cut between tokens) becomes U+FFFD, as in Hugging Face.
        return String(decoding: bytes, as: UTF8.self)
    }

    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }

    /// Pre-tokenizes text free of added tokens and appends the BPE ids of each piece.
    private func appendModelIds(of text: String, to ids: inout [Int32]) {
        let prefixed = addPrefixSpace && !text.hasPrefix(" ") ? " " + text : text
        let scalars = Array(prefixed.unicodeScalars)
        var bytes: [UInt8] = []
        for piece in preTokenizer.split(scalars) {
            bytes.removeAll(keepingCapacity: true)
            for scalar in scalars[piece] {
                bytes.append(contentsOf: scalar.utf8)
            }
            ids.append(contentsOf: encoder.encode(bytes))
        }
    }
}
