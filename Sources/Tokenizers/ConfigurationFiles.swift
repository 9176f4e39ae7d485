import Foundation

/// A token named in a config file: either a plain string or an object with a `content` field.
struct TokenName: Decodable, Equatable {
    var content: String

    private enum CodingKeys: String, CodingKey {
        case content
    }

    init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            content = text
        } else if let object = try? decoder.container(keyedBy: CodingKeys.self),
                  let text = try? object.decode(String.self, forKey: .content) {
            content = text
        } else {
            throw DecodingError.typeMismatch(TokenName.self, DecodingError.Context(
                codingPath: decoder.codingPath,
                debugDescription: "expected a token string or an object with a 'content' string"))
        }
    }
}

/// An id field of config.json: an integer or, for models with several EOS ids, a list (first wins).
struct TokenIdField: Decodable {
    var id: Int32?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let single = try? container.decode(Int32.self) {
            id = single
        } else if let list = try? container.decode([Int32].self) {
            id = list.first
        } else {
            throw DecodingError.typeMismatch(TokenIdField.self, DecodingError.Context(
                codingPath: decoder.codingPath, debugDescription: "expected a token id or a list of token ids"))
        }
    }
}

/// The `tokenizer_config.json` fields used here.
struct TokenizerConfigFile: Decodable {
    struct DeclaredToken: Decodable {
        var content: String
        var special: Bool?
        var normalized: Bool?
    }

    var tokenizerClass: String?
    var bosToken: TokenName?
    var eosToken: TokenName?
    var unkToken: TokenName?
    var padToken: TokenName?
    var addBosToken: Bool?
    var addEosToken: Bool?
    var addPrefixSpace: Bool?
    /// Added tokens keyed by their id written as a string.
    var addedTokensDecoder: [String: DeclaredToken]?

    private enum CodingKeys: String, CodingKey {
        case tokenizerClass = "tokenizer_class"
        case bosToken = "bos_token", eosToken = "eos_token", unkToken = "unk_token", padToken = "pad_token"
        case addBosToken = "add_bos_token", addEosToken = "add_eos_token"
        case addPrefixSpace = "add_prefix_space"
        case addedTokensDecoder = "added_tokens_decoder"
    }
}

/// The `special_tokens_map.json` fields used here.
struct SpecialTokensMapFile: Decodable {
    var bosToken: TokenName?
    var eosToken: TokenName?
    var unkToken: TokenName?
    var padToken: TokenName?

    private enum CodingKeys: String, CodingKey {
        case bosToken = "bos_token", eosToken = "eos_token", unkToken = "unk_token", padToken = "pad_token"
    }
}

/// The model `config.json` fields used here.
struct ModelConfigFile: Decodable {
    var bosTokenId: TokenIdField?
    var eosTokenId: TokenIdField?
    var padTokenId: TokenIdField?

    private enum CodingKeys: String, CodingKey {
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
    }
}

enum SpecialTokenRole: String, CaseIterable, Sendable {
    case bos, eos, unk, pad
}

/// What a model folder's side files say about special tokens. Token names come from
/// tokenizer_config.json, then special_tokens_map.json; config.json ids are the last resort.
struct SpecialTokenConfiguration {
    var tokenizerClass: String?
    var names: [SpecialTokenRole: String] = [:]
    var configIds: [SpecialTokenRole: Int32] = [:]
    var addBosToken: Bool?
    var addEosToken: Bool?
    var addPrefixSpace: Bool?
    /// Tokens from `added_tokens_decoder` and added_tokens.json (used with vocab.json).
    var declaredAddedTokens: [AddedToken] = []

    static func read(from directory: URL) throws -> SpecialTokenConfiguration {
        var result = SpecialTokenConfiguration()
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        if let config = try JSONFile.decodeIfPresent(TokenizerConfigFile.self, from: configURL) {
            result.tokenizerClass = config.tokenizerClass
            result.addBosToken = config.addBosToken
            result.addEosToken = config.addEosToken
            result.addPrefixSpace = config.addPrefixSpace
            result.fillNames(bos: config.bosToken, eos: config.eosToken, unk: config.unkToken, pad: config.padToken)
            for (key, token) in config.addedTokensDecoder ?? [:] {
                guard let id = Int32(key) else {
                    throw TokenizerError.malformedFile(
                        path: configURL.path, reason: "added_tokens_decoder key '\(key)' is not an integer id")
                }
                result.declaredAddedTokens.append(AddedToken(
                    id: id, content: token.content, special: token.special ?? false,
                    normalized: token.normalized ?? !(token.special ?? false)))
            }
        }
        let mapURL = directory.appendingPathComponent("special_tokens_map.json")
        if let map = try JSONFile.decodeIfPresent(SpecialTokensMapFile.self, from: mapURL) {
            result.fillNames(bos: map.bosToken, eos: map.eosToken, unk: map.unkToken, pad: map.padToken)
        }
        let addedURL = directory.appendingPathComponent("added_tokens.json")
        if let added = try JSONFile.decodeIfPresent([String: Int32].self, from: addedURL) {
            let known = Set(result.declaredAddedTokens.map(\.id))
            for (content, id) in added where !known.contains(id) {
                result.declaredAddedTokens.append(AddedToken(id: id, content: content, special: false, normalized: true))
            }
        }
        let modelURL = directory.appendingPathComponent("config.json")
        if let model = try JSONFile.decodeIfPresent(ModelConfigFile.self, from: modelURL) {
            result.configIds[.bos] = model.bosTokenId?.id
            result.configIds[.eos] = model.eosTokenId?.id
            result.configIds[.pad] = model.padTokenId?.id
        }
        result.declaredAddedTokens.sort { $0.id < $1.id }
        return result
    }

    /// A copy where `roles` without a configured name are named `name` (the tokenizer class's
    /// default, e.g. GPT2Tokenizer's "<|endoftext|>").
    func naming(_ roles: [SpecialTokenRole], byDefault name: String) -> SpecialTokenConfiguration {
        var copy = self
        for role in roles where copy.names[role] == nil {
            copy.names[role] = name
        }
        return copy
    }

    /// The id of a role: its configured name looked up with `lookup`, else config.json's id.
    func id(of role: SpecialTokenRole, lookup: (String) -> Int32?) -> Int32? {
        names[role].flatMap(lookup) ?? configIds[role]
    }

    private mutating func fillNames(bos: TokenName?, eos: TokenName?, unk: TokenName?, pad: TokenName?) {
        for (role, name) in [(SpecialTokenRole.bos, bos), (.eos, eos), (.unk, unk), (.pad, pad)] {
            if names[role] == nil, let name {
                names[role] = name.content
            }
        }
    }
}
