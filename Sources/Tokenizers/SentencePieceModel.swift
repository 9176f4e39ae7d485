import CSentencePiece
import Foundation

/// Owns a sentencepiece model loaded through the C shim.
final class SentencePieceModel: @unchecked Sendable {
    // @unchecked: the model is never mutated after loading, and sentencepiece's Encode/Decode
    // are const and safe to call from several threads.
    private let handle: OpaquePointer

    enum PieceType: Int32 {
        case normal = 1, unknown = 2, control = 3, unused = 5, byte = 6
    }

    init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TokenizerError.unreadableFile(path: url.path, reason: "no such file")
        }
        var message = [CChar](repeating: 0, count: 512)
        guard let handle = spm_load(url.path, &message, message.count) else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw TokenizerError.malformedFile(path: url.path, reason: "sentencepiece could not load it: \(reason)")
        }
        self.handle = handle
    }

    deinit {
        spm_free(handle)
    }

    var pieceCount: Int { Int(spm_piece_count(handle)) }

    /// Special ids from the trainer spec; nil where the model has none.
    var bosId: Int32? { Self.present(spm_bos_id(handle)) }
    var eosId: Int32? { Self.present(spm_eos_id(handle)) }
    var unknownId: Int32? { Self.present(spm_unk_id(handle)) }
    var padId: Int32? { Self.present(spm_pad_id(handle)) }

    /// Piece ids of UTF-8 text, without BOS/EOS; `dummyPrefix` false leaves out the "▁" the
    /// model's normalizer puts before the text (falling back to it if the model cannot).
    func encode(_ text: String, dummyPrefix: Bool = true) -> [Int32] {
        var utf8 = Array(text.utf8)
        var ids: UnsafeMutablePointer<Int32>?
        var count = 0
        var status = utf8.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                dummyPrefix ? spm_encode(handle, chars.baseAddress, chars.count, &ids, &count)
                    : spm_encode_without_prefix(handle, chars.baseAddress, chars.count, &ids, &count)
            }
        }
        if status == -2 {
            status = utf8.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { spm_encode(handle, $0.baseAddress, $0.count, &ids, &count) }
            }
        }
        defer { spm_free_buffer(ids) }
        // Encoding only fails on an unloaded model (or out of memory), which callers cannot fix.
        precondition(status == 0, "sentencepiece failed to encode")
        return Array(UnsafeBufferPointer(start: ids, count: count))
    }

    /// sentencepiece's own decoding (control pieces dropped, unknown shown as " ⁇ ").
    func decode(_ ids: [Int32]) -> String {
        var length = 0
        let text = ids.withUnsafeBufferPointer { spm_decode(handle, $0.baseAddress, $0.count, &length) }
        defer { spm_free_buffer(text) }
        guard let text else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    func piece(for id: Int32) -> String? {
        var length = 0
        guard let piece = spm_id_to_piece(handle, id, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: piece, count: length), as: UTF8.self)
    }

    /// The id of an exact piece, or nil when the model lacks it.
    func id(ofPiece piece: String) -> Int32? {
        var utf8 = Array(piece.utf8)
        let id = utf8.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { spm_piece_to_id(handle, $0.baseAddress, $0.count) }
        }
        return self.piece(for: id) == piece ? id : nil
    }

    func pieceType(of id: Int32) -> PieceType? {
        PieceType(rawValue: spm_piece_type_of(handle, id))
    }

    private static func present(_ id: Int32) -> Int32? {
        id >= 0 ? id : nil
    }
}
