import Foundation

/// Llama's tokenizer: a sentencepiece BPE model (`tokenizer.model`) run by the sentencepiece
/// library itself.
///
/// Deliberate behaviour: ids are exactly sentencepiece's, which is what the DPO references got
/// (transformers 4, or the hub tokenizer.json). transformers 5 differs for text that starts with
/// a space: sentencepiece always prepends the dummy-prefix "▁", so `" Hello"` is
/// `▁`, `▁Hello` = [815, 268, 673, 820] here, while transformers 5 gives [268, 673, 820].
/// Responses are tokenized separately and start with a space, so this choice matters for DPO.
///
/// Special-token text in the input (a literal `"<s>"`) is encoded as ordinary characters, as
/// sentencepiece does; BOS is added only by `encode(_:addSpecialTokens: true)`.
public struct SentencePieceTokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosTokenId: Int32?
    public let eosTokenId: Int32
    public let padTokenId: Int32
    public let unknownTokenId: Int32?

    private let model: SentencePieceModel
    private let pieces: [String]
    private let kinds: [PieceKind]
    private let addsBos: Bool
    private let addsEos: Bool
    /// The special tokens transformers splits out of text (`encodeAsTransformers`).
    private let addedTokens: AddedTokenMatcher

    /// How a piece decodes.
    private enum PieceKind {
        /// Text, with "▁" standing for a space.
        case text([UInt8])
        /// One raw byte (`<0xHH>`, byte fallback).
        case byte(UInt8)
        /// BOS/EOS and other control pieces: not text, dropped when skipping special tokens.
        case control
        case unknown
    }

    /// Loads `tokenizer.model` from `directory`. Special tokens named in tokenizer_config.json
    /// or special_tokens_map.json override the model's own ids; pad falls back to EOS.
    public init(directory: URL) throws {
        let configuration = try SpecialTokenConfiguration.read(from: directory)
        let model = try SentencePieceModel(contentsOf: directory.appendingPathComponent("tokenizer.model"))
        self.model = model
        vocabularySize = model.pieceCount
        pieces = (0..<Int32(model.pieceCount)).map { model.piece(for: $0) ?? "" }
        kinds = (0..<Int32(model.pieceCount)).map { id in Self.kind(of: id, in: model) }

        let lookup = { (name: String) in model.id(ofPiece: name) }
        guard let eos = configuration.id(of: .eos, lookup: lookup) ?? model.eosId else {
            throw TokenizerError.missingSpecialToken(name: "eos", directory: directory.path)
        }
        eosTokenId = eos
        bosTokenId = configuration.id(of: .bos, lookup: lookup) ?? model.bosId
        unknownTokenId = configuration.id(of: .unk, lookup: lookup) ?? model.unknownId
        padTokenId = configuration.id(of: .pad, lookup: lookup) ?? model.padId ?? eos
        // LlamaTokenizer's defaults.
        addsBos = configuration.addBosToken ?? true
        addsEos = configuration.addEosToken ?? false
        var added = configuration.declaredAddedTokens
        for id in [bosTokenId, eosTokenId, unknownTokenId].compactMap({ $0 }) where !added.contains(where: { $0.id == id }) {
            if let piece = model.piece(for: id) { added.append(AddedToken(id: id, content: piece, special: true, normalized: false)) }
        }
        addedTokens = AddedTokenMatcher(added)
    }

    /// transformers 5's Llama tokenizer: added tokens split out of the text, and each piece of
    /// text between them encoded by the model with the "▁" prefix only where the input begins
    /// and does not already start with a space (its Metaspace pre-tokenizer, prepend_scheme
    /// "first"): " Hello" is "▁Hello", and the text after "<s>" gets no prefix.
    public func encodeAsTransformers(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var ids: [Int32] = addSpecialTokens && addsBos ? bosTokenId.map { [$0] } ?? [] : []
        var atStart = true
        for segment in addedTokens.split(text) {
            switch segment {
            case let .token(id): ids.append(id)
            case let .text(t): ids += model.encode(t, dummyPrefix: atStart && !t.hasPrefix(" "))
            }
            atStart = false
        }
        if addSpecialTokens && addsEos { ids.append(eosTokenId) }
        return ids
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var ids: [Int32] = []
        if addSpecialTokens && addsBos, let bos = bosTokenId {
            ids.append(bos)
        }
        ids.append(contentsOf: model.encode(text))
        if addSpecialTokens && addsEos {
            ids.append(eosTokenId)
        }
        return ids
    }

    /// Decodes as sentencepiece does: "▁" becomes a space, consecutive byte pieces form UTF-8,
    /// and the dummy-prefix space is dropped from the first text piece. Unlike sentencepiece,
    /// control pieces are shown (as their text) unless `skipSpecialTokens`; the unknown piece
    /// shows as sentencepiece's " ⁇ " and is skipped with the special tokens.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        var expectsDummyPrefix = true
        // Consecutive byte pieces, decoded together as tokenizer.json's `ByteFallback` decoder
        // does: their UTF-8 text when valid, else one U+FFFD per byte (never merged with the text
        // around them).
        var byteRun: [UInt8] = []
        func flushByteRun() {
            guard !byteRun.isEmpty else { return }
            if let text = String(validating: byteRun, as: UTF8.self) {
                bytes.append(contentsOf: text.utf8)
            } else {
                for _ in byteRun { bytes.append(contentsOf: "\u{FFFD}".utf8) }
            }
            byteRun.removeAll(keepingCapacity: true)
        }
        for id in ids where id >= 0 && Int(id) < kinds.count {
            if case let .byte(byte) = kinds[Int(id)] {
                byteRun.append(byte)
                expectsDummyPrefix = false
                continue
            }
            flushByteRun()
            switch kinds[Int(id)] {
            case .control:
                if !skipSpecialTokens {
                    bytes.append(contentsOf: pieces[Int(id)].utf8)
                }
            case .unknown:
                if !skipSpecialTokens {
                    bytes.append(contentsOf: " \u{2047} ".utf8)
                    expectsDummyPrefix = false
                }
            case .byte:
                break
            case let .text(surface):
                let dropsSpace = expectsDummyPrefix && surface.first == UInt8(ascii: " ")
                bytes.append(contentsOf: dropsSpace ? surface.dropFirst() : surface[...])
                expectsDummyPrefix = false
            }
        }
        flushByteRun()
        return String(decoding: bytes, as: UTF8.self)
    }

    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < pieces.count ? pieces[Int(id)] : nil
    }

    /// sentencepiece's own decoding, kept to check `decode` against it.
    func sentencePieceDecode(_ ids: [Int32]) -> String {
        model.decode(ids)
    }

    private static func kind(of id: Int32, in model: SentencePieceModel) -> PieceKind {
        let piece = model.piece(for: id) ?? ""
        switch model.pieceType(of: id) {
        case .control:
            return .control
        case .unknown:
            return .unknown
        case .byte:
            if let byte = byteValue(of: piece) {
                return .byte(byte)
            }
            return .text(Array(piece.utf8))
        case .normal, .unused, nil:
            return .text(Array(piece.replacingOccurrences(of: "\u{2581}", with: " ").utf8))
        }
    }

    /// The byte of a `<0xHH>` piece.
    private static func byteValue(of piece: String) -> UInt8? {
        guard piece.hasPrefix("<0x"), piece.hasSuffix(">"), piece.count == 6 else { return nil }
        return UInt8(piece.dropFirst(3).dropLast(), radix: 16)
    }
}
