import TensorCore

/// An attention shape with its key mask (nil: every key real), for the tests that compare the
/// attention paths.
struct AttentionCase {
    let shape: AttentionShape
    let mask: [Int32]?
}

/// Values in [-1, 1] from a linear congruential sequence: the same inputs on every run.
func attentionTestValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
    }
}
