/// A token matched verbatim in the text before any model-specific splitting
/// (`added_tokens` in tokenizer.json, `added_tokens_decoder` in tokenizer_config.json).
struct AddedToken: Sendable, Equatable {
    var id: Int32
    var content: String
    /// Special tokens (BOS/EOS/pad...) are dropped by `decode(skipSpecialTokens: true)`.
    var special: Bool
    /// Matched in the normalized text rather than the raw text.
    var normalized: Bool
}

/// Splits text at added tokens: at each position the longest token starting there wins, and the
/// leftmost match is taken first (Hugging Face's leftmost-longest matching).
struct AddedTokenMatcher: Sendable {
    enum Segment: Equatable {
        case text(String)
        case token(Int32)
    }

    /// Tokens bucketed by their first UTF-8 byte, longest first within a bucket.
    private let candidates: [UInt8: [(bytes: [UInt8], id: Int32)]]

    init(_ tokens: [AddedToken]) {
        var buckets: [UInt8: [(bytes: [UInt8], id: Int32)]] = [:]
        for token in tokens where !token.content.isEmpty {
            let bytes = Array(token.content.utf8)
            buckets[bytes[0], default: []].append((bytes, token.id))
        }
        candidates = buckets.mapValues { $0.sorted { $0.bytes.count > $1.bytes.count } }
    }

    var isEmpty: Bool { candidates.isEmpty }

    func split(_ text: String) -> [Segment] {
        guard !candidates.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        // Matching on UTF-8 bytes is safe: a match of valid UTF-8 always starts and ends on
        // scalar boundaries, so every text segment below is valid UTF-8 again.
        let bytes = Array(text.utf8)
        var segments: [Segment] = []
        var textStart = 0
        var position = 0
        while position < bytes.count {
            guard let (length, id) = longestMatch(in: bytes, at: position) else {
                position += 1
                continue
            }
            if textStart < position {
                segments.append(.text(String(decoding: bytes[textStart..<position], as: UTF8.self)))
            }
            segments.append(.token(id))
            position += length
            textStart = position
        }
        if textStart < bytes.count {
            segments.append(.text(String(decoding: bytes[textStart...], as: UTF8.self)))
        }
        return segments
    }

    private func longestMatch(in bytes: [UInt8], at position: Int) -> (length: Int, id: Int32)? {
        guard let bucket = candidates[bytes[position]] else { return nil }
        for candidate in bucket where position + candidate.bytes.count <= bytes.count {
            if bytes[position..<(position + candidate.bytes.count)].elementsEqual(candidate.bytes) {
                return (candidate.bytes.count, candidate.id)
            }
        }
        return nil
    }
}
