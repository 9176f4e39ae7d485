import Autograd
import Foundation
import TensorCore

/// WPO's weighting (`use_weighting`, docs/spec/losses.md §6.1, as TRL 1.16 computes it): each row's weight
/// is `exp(mean over its response tokens of (log p(label) - log sum_v p_v^2))` under the policy,
/// without gradient, and a pair's is the product of its chosen and rejected rows'. Every loss
/// with `DPH_LOSS_PAIR_WEIGHTS` multiplies its examples' losses by them before the batch mean.
public enum PairWeighting {
    /// `[B]` weights from the policy's logits `[2B, T, V]`, its label log-probs `[2B, T-1]` and
    /// the labels `[2B, T]` (only positions whose label counts are read).
    public static func weights(logits: Tensor, labelLogps: Tensor, labels: IndexTensor) -> Tensor {
        let (n, t, v) = (logits.shape[0], logits.shape[1], logits.shape[2])
        let b = n / 2
        var rowWeights = [Double](repeating: 0, count: n)
        for row in 0..<n {
            var sum = 0.0, count = 0
            for j in 1..<t where labels.values[row * t + j] != LossBatch.ignoreIndex {
                let x = logits.pointer + (row * t + j - 1) * v
                // log sum_v p_v^2 = logsumexp(2x) - 2 logsumexp(x).
                var m: Float = -.infinity
                for k in 0..<v { m = max(m, x[k]) }
                var s1 = 0.0, s2 = 0.0
                for k in 0..<v {
                    let d = Double(x[k] - m)
                    s1 += exp(d)
                    s2 += exp(2 * d)
                }
                let logSumSquares = log(s2) - 2 * log(s1)
                sum += Double(labelLogps.pointer[row * (t - 1) + j - 1]) - logSumSquares
                count += 1
            }
            rowWeights[row] = exp(sum / Double(max(count, 1)))
        }
        let out = Tensor(zeros: [b])
        for i in 0..<b { out.pointer[i] = Float(rowWeights[i] * rowWeights[b + i]) }
        return out
    }
}
