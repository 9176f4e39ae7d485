import TensorCore

extension Tape {
    /// Per-token log-probability of the next label: `[N, T, V]` logits and `[N, T]` labels give
    /// `[N, T - 1]`, where entry `t` scores label `t + 1` with logits `t` and is 0 where that label
    /// is -100 (the DPO reference's `_get_batch_logps` before its sum). The log-softmax is taken
    /// over all `V` rows of the logits.
    public func labelLogProbs(logits: Variable, labels: IndexTensor) throws -> Variable {
        let s = logits.shape
        guard s.count == 3, labels.shape == [s[0], s[1]], s[1] >= 1, s[2] > 0 else {
            throw TensorError.shapeMismatch(op: "labelLogProbs", detail: "logits \(s) and labels \(labels.shape): expected [N, T, V] and [N, T] with T >= 1")
        }
        let (n, t, v) = (s[0], s[1], s[2])
        // The first label column is never scored, so only columns 1..<T must be valid ids.
        let scored = labels.values.enumerated().lazy.filter { $0.offset % t != 0 }.map(\.element)
        if let bad = scored.first(where: { $0 != LabelLogProbsKernel.ignoreIndex && ($0 < 0 || Int($0) >= v) }) {
            throw TensorError.indexOutOfRange(op: "labelLogProbs", detail: "label \(bad) outside [0, \(v)) (and not -100)")
        }
        let zv = logits.value.contiguous()
        let out = Tensor(zeros: [n, t - 1])
        let lse = Tensor(zeros: [max(n * (t - 1), 1)])
        LabelLogProbsKernel.forward(logits: zv.pointer, labels: labels.values, batch: n, length: t, vocab: v,
                                    out: out.pointer, logSumExp: lse.pointer, pool: pool)
        return result(out, inputs: [logits]) { [pool] dy in
            let dy = dy.contiguous()
            LabelLogProbsKernel.backward(logits: zv.pointer, labels: labels.values, batch: n, length: t, vocab: v,
                                         logSumExp: lse.pointer, dOut: dy.pointer,
                                         dLogits: logits.gradBuffer().pointer, pool: pool)
        }
    }
}
