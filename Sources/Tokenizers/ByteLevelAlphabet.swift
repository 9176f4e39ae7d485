/// GPT-2's reversible byte <-> printable character table: bytes 33-126, 161-172 and 174-255
/// stand for themselves; the other 68 bytes take code points 256, 257, ... in increasing order
/// (space -> "Ġ" U+0120, newline -> "Ċ" U+010A), so every byte string becomes visible text.
struct ByteLevelAlphabet: Sendable {
    /// The character standing for each byte.
    let characters: [Unicode.Scalar]
    /// The byte each table character stands for, keyed by code point.
    private let bytesByCodePoint: [UInt32: UInt8]

    init() {
        var characters: [Unicode.Scalar] = []
        characters.reserveCapacity(256)
        var nextExtra: UInt32 = 256
        for byte in 0...255 {
            if (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte) {
                characters.append(Unicode.Scalar(UInt8(byte)))
            } else {
                characters.append(Unicode.Scalar(nextExtra)!)
                nextExtra += 1
            }
        }
        self.characters = characters
        var bytes: [UInt32: UInt8] = [:]
        for (byte, character) in characters.enumerated() {
            bytes[character.value] = UInt8(byte)
        }
        bytesByCodePoint = bytes
    }

    /// The table string for raw bytes (used to name the vocabulary entry of a byte).
    func symbol(for byte: UInt8) -> String {
        String(Character(characters[Int(byte)]))
    }

    /// The raw bytes of a vocabulary token. A token with any character outside the table (an
    /// added token such as NeoX's "  ") stands for its own UTF-8 bytes, as in Hugging Face's
    /// ByteLevel decoder.
    func bytes(ofToken token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = bytesByCodePoint[scalar.value] else { return Array(token.utf8) }
            bytes.append(byte)
        }
        return bytes
    }
}
