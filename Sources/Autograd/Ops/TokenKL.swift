import TensorCore

extension Tape {
    /// TDPO's per-position KL of the reference from the policy: `[N, T, V]` policy and reference
    /// logits and a `[N, T - 1]` mask give `[N, T - 1]`, entry `t` being
    /// `sum_v softmax(r_t)_v (log_softmax(r_t)_v - log_softmax(z_t)_v)` where the mask is nonzero
    /// and 0 elsewhere (logits `t` score label `t + 1`, as in `labelLogProbs`). Equal to the
    /// composition slice/log_softmax/softmax/sub/mul/sum, without its `[N, T, V]` intermediates.
    /// `underflows` receives the kept positions where the reference softmax has an exact 0.
    public func tokenKL(policy: Variable, reference: Variable, mask: Variable, underflows: UnsafeMutablePointer<Int>? = nil) throws -> Variable {
        let s = policy.shape
        guard s.count == 3, s[1] >= 1, s[2] > 0, reference.shape == s, mask.shape == [s[0], s[1] - 1] else {
            throw TensorError.shapeMismatch(op: "tokenKL", detail: "policy \(s), reference \(reference.shape), mask \(mask.shape): expected [N, T, V] twice and [N, T-1]")
        }
        let (n, t, v) = (s[0], s[1], s[2])
        let z = policy.value.contiguous(), r = reference.value.contiguous(), m = mask.value.contiguous()
        let rows = n * (t - 1)
        let out = Tensor(zeros: [n, t - 1])
        let lseP = Tensor(zeros: [max(rows, 1)]), lseR = Tensor(zeros: [max(rows, 1)])
        let zeros = TokenKLKernel.forward(policy: z.pointer, reference: r.pointer, mask: m.pointer, batch: n, length: t, vocab: v,
                                          out: out.pointer, policyLSE: lseP.pointer, referenceLSE: lseR.pointer, pool: pool)
        underflows?.pointee = zeros
        // The mask is data (a response mask): no gradient flows into it.
        return result(out, inputs: [policy, reference]) { [pool] dy in
            let dy = dy.contiguous()
            TokenKLKernel.backward(policy: z.pointer, reference: r.pointer, mask: m.pointer, batch: n, length: t, vocab: v,
                                   kl: out.pointer, policyLSE: lseP.pointer, referenceLSE: lseR.pointer, dOut: dy.pointer,
                                   dPolicy: policy.requiresGrad ? policy.gradBuffer().pointer : nil,
                                   dReference: reference.requiresGrad ? reference.gradBuffer().pointer : nil, pool: pool)
        }
    }
}
