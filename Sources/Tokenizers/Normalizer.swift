import Foundation

/// The `normalizer` of a tokenizer.json, limited to the Unicode normalization forms that
/// byte-level BPE files declare (GPT-NeoX's tokenizer uses NFC).
enum Normalizer: Sendable, Equatable {
    case nfc, nfd, nfkc, nfkd
    indirect case sequence([Normalizer])

    func apply(_ text: String) -> String {
        switch self {
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case let .sequence(steps): return steps.reduce(text) { $1.apply($0) }
        }
    }
}
