import Autograd
import TensorCore

/// LD-DPO's length desensitisation (`ld_alpha`, docs/spec/losses.md §6.1, as TRL 1.16 computes it): each
/// sequence log-prob a loss gets becomes `shared + alpha * tail`, where `shared` sums the first
/// `min(lc, lr)` response tokens of the pair's row and `tail` the rest; policy and reference
/// alike, the precomputed reference too. One mechanism for every loss, built-in or not: the host
/// weights the sums it hands over.
public struct LengthDesensitization: Sendable {
    public let alpha: Float

    public init(alpha: Float) { self.alpha = alpha }

    /// `[2B, T-1]` weights for label log-probs at `labels[:, 1...]` (chosen rows, then rejected):
    /// 1 on a row's first `min(lc, lr)` counted labels, `alpha` on its later ones, 0 elsewhere.
    public func weights(labels: IndexTensor) -> Tensor {
        let (n, t) = (labels.shape[0], labels.shape[1])
        let b = n / 2
        let counts = (0..<n).map { row in (1..<t).filter { labels.values[row * t + $0] != LossBatch.ignoreIndex }.count }
        let w = Tensor(zeros: [n, t - 1])
        for row in 0..<n {
            let shared = min(counts[row % b], counts[b + row % b])
            var k = 0
            for j in 1..<t where labels.values[row * t + j] != LossBatch.ignoreIndex {
                k += 1
                w.pointer[row * (t - 1) + j - 1] = k <= shared ? 1 : alpha
            }
        }
        return w
    }

    /// `[2B]` weighted sums of `tokens [2B, T-1]`.
    public func sequenceLogps(tokens: Variable, labels: IndexTensor, tape: Tape) throws -> Variable {
        try tape.sum(try tape.mul(tokens, Variable(weights(labels: labels))), axis: 1)
    }
}
