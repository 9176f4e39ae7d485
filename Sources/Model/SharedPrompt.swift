import TensorCore

/// The leading positions of a preference batch (`[2B, T]`: chosen rows, then rejected) that both
/// rows of every pair hold alike, token and mask: the prompt, which the models can run once per
/// pair (`ModelPlugin.forwardSharingPrompt`). The reference implementation runs it twice, once in
/// each row; with prompts about half of each row that is a quarter of the batch's positions.
///
/// Only positions whose logits no loss reads are shared (logits t score label t+1, so every
/// label at 1...length is ignored), so the losses see the same log-probs from the rest.
public struct SharedPrompt: Equatable {
    /// Positions `0..<length` run once per pair.
    public let length: Int
    public let pairs: Int

    /// nil when no position can be shared: an odd row count, or pairs that differ at position 0.
    /// At least two positions are left to every row (a loss batch needs T >= 2).
    public init?(ids: IndexTensor, mask: IndexTensor, labels: IndexTensor) {
        guard ids.rank == 2, mask.shape == ids.shape, labels.shape == ids.shape, ids.shape[0] > 0, ids.shape[0] % 2 == 0 else { return nil }
        let (n, t) = (ids.shape[0], ids.shape[1])
        let b = n / 2
        var length = t - 2
        for row in 0..<n {
            // Label `length` must not count: its logits come from position length - 1.
            var first = 1
            while first < t && labels[row, first] == LabelLogProbsKernel.ignoreIndex { first += 1 }
            length = min(length, first - 1)
        }
        for i in 0..<b {
            var same = 0
            while same < length && ids[i, same] == ids[i + b, same] && mask[i, same] == mask[i + b, same] { same += 1 }
            length = same
        }
        guard length > 0 else { return nil }
        self.length = length
        self.pairs = b
    }

    /// The columns of `x [2B, T]` that every row runs on its own: `length..<T`.
    public func rowPart(_ x: IndexTensor) -> IndexTensor { x.columns(length..<x.shape[1]) }
}
