import Foundation

/// Everything a byte-level BPE tokenizer is built from, read from either file layout.
struct ByteLevelBPEDefinition {
    var vocabulary: [String: Int32]
    var merges: [(String, String)]
    var addedTokens: [AddedToken]
    var normalizer: Normalizer?
    var addPrefixSpace: Bool
    /// The file named in errors found later (e.g. inconsistent merges).
    var sourcePath: String

    /// Reads a Hugging Face `tokenizer.json`; anything other than byte-level BPE is rejected.
    static func read(tokenizerJSON url: URL) throws -> ByteLevelBPEDefinition {
        let file = try JSONFile.decode(TokenizerJSONFile.self, from: url)
        let path = url.path
        let modelType = file.model.type ?? (file.model.merges != nil ? "BPE" : "unknown")
        guard modelType == "BPE" else {
            throw TokenizerError.unsupported(path: path, feature: "unknown model type '\(modelType)' (expected 'BPE')")
        }
        guard let vocabulary = file.model.vocab else {
            throw TokenizerError.malformedFile(path: path, reason: "missing field 'model.vocab'")
        }
        guard let merges = file.model.merges else {
            throw TokenizerError.malformedFile(path: path, reason: "missing field 'model.merges'")
        }
        if file.model.byteFallback == true {
            throw TokenizerError.unsupported(path: path, feature: "model.byte_fallback (Llama tokenizers load from tokenizer.model)")
        }
        if !(file.model.continuingSubwordPrefix ?? "").isEmpty || !(file.model.endOfWordSuffix ?? "").isEmpty {
            throw TokenizerError.unsupported(path: path, feature: "subword prefixes/suffixes in model")
        }
        guard let preTokenizer = file.preTokenizer, preTokenizer.type == "ByteLevel", preTokenizer.useRegex != false else {
            let found = file.preTokenizer.map { "'\($0.type)'" } ?? "none"
            throw TokenizerError.unsupported(
                path: path, feature: "pre_tokenizer \(found) (only ByteLevel with the GPT-2 pattern is supported)")
        }
        if let decoder = file.decoder, decoder.type != "ByteLevel" {
            throw TokenizerError.unsupported(path: path, feature: "decoder '\(decoder.type)' (expected 'ByteLevel')")
        }
        let addedTokens = try (file.addedTokens ?? []).map { entry in
            if entry.lstrip == true || entry.rstrip == true || entry.singleWord == true {
                throw TokenizerError.unsupported(
                    path: path, feature: "added token '\(entry.content)' with lstrip, rstrip or single_word")
            }
            let special = entry.special ?? false
            return AddedToken(id: entry.id, content: entry.content, special: special,
                              normalized: entry.normalized ?? !special)
        }
        return ByteLevelBPEDefinition(
            vocabulary: vocabulary, merges: merges.pairs, addedTokens: addedTokens,
            normalizer: try file.normalizer.map { try normalizer(from: $0, path: path) },
            addPrefixSpace: preTokenizer.addPrefixSpace ?? false, sourcePath: path)
    }

    /// Reads the classic `vocab.json` + `merges.txt` pair. Added tokens come from the side files
    /// (already gathered in `configuration`); the tokens named as bos/eos/unk/pad are special.
    static func read(vocabulary vocabularyURL: URL, merges mergesURL: URL,
                     configuration: SpecialTokenConfiguration) throws -> ByteLevelBPEDefinition {
        let vocabulary = try JSONFile.decode([String: Int32].self, from: vocabularyURL)
        let merges = try readMerges(mergesURL)
        var addedTokens = configuration.declaredAddedTokens
        let declared = Set(addedTokens.map(\.content))
        let specialNames = Set(configuration.names.values)
        for index in addedTokens.indices where specialNames.contains(addedTokens[index].content) {
            addedTokens[index].special = true
        }
        for name in specialNames.sorted() where !declared.contains(name) {
            if let id = vocabulary[name] {
                addedTokens.append(AddedToken(id: id, content: name, special: true, normalized: false))
            }
        }
        return ByteLevelBPEDefinition(
            vocabulary: vocabulary, merges: merges, addedTokens: addedTokens, normalizer: nil,
            addPrefixSpace: configuration.addPrefixSpace ?? false, sourcePath: mergesURL.path)
    }

    /// `merges.txt`: an optional `#version` line, then one `left right` pair per line in rank order.
    private static func readMerges(_ url: URL) throws -> [(String, String)] {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        var merges: [(String, String)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (index == 0 && line.hasPrefix("#version")) {
                continue
            }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError.malformedFile(
                    path: url.path, reason: "line \(index + 1) is not two tokens separated by one space")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }

    private static func normalizer(from component: TokenizerJSONFile.Component, path: String) throws -> Normalizer {
        switch component.type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Sequence":
            return .sequence(try (component.normalizers ?? []).map { try normalizer(from: $0, path: path) })
        default:
            throw TokenizerError.unsupported(path: path, feature: "normalizer '\(component.type)'")
        }
    }
}
