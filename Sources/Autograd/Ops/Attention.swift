import TensorCore

extension Tape {
    /// Causal self-attention with an optional key padding mask and grouped-query sharing.
    ///
    /// `query [B, Tq, Hq, d]`, `key`/`value [B, Tk, Hkv, d]` with `Hq % Hkv == 0` and `Tq <= Tk`
    /// (the last `Tq` positions attend; a key/value cache supplies the earlier ones);
    /// `keyMask [B, Tk]` (1 = real, 0 = padding). `scale` defaults to `1/sqrt(d)`.
    /// Output `[B, Tq, Hq, d]`.
    public func attention(query: Variable, key: Variable, value: Variable,
                          keyMask: IndexTensor? = nil, scale: Float? = nil) throws -> Variable {
        let q = query.shape, k = key.shape, v = value.shape
        let describe = "query \(q), key \(k), value \(v)"
        guard q.count == 4, k.count == 4, k == v, q[0] == k[0], q[3] == k[3], k[2] > 0,
              q[2] % k[2] == 0, q[1] <= k[1] else {
            throw TensorError.shapeMismatch(op: "attention", detail: "\(describe): expected [B, Tq, Hq, d] and [B, Tk, Hkv, d] with Hq divisible by Hkv and Tq <= Tk")
        }
        if let keyMask, keyMask.shape != [k[0], k[1]] {
            throw TensorError.shapeMismatch(op: "attention", detail: "keyMask \(keyMask.shape) for \(describe): expected [\(k[0]), \(k[1])]")
        }
        let s = AttentionShape(batch: q[0], queryLength: q[1], keyLength: k[1],
                               queryHeads: q[2], keyValueHeads: k[2], headDim: q[3])
        let sc = scale ?? 1 / Float(q[3]).squareRoot()
        let qv = query.value.contiguous(), kv = key.value.contiguous(), vv = value.value.contiguous()
        let out = Tensor(uninitialized: q)
        let mask = keyMask?.values
        // The kernel's backward, given the output's gradient (contiguous) and the gradient
        // buffers it accumulates into (nil for an input that needs none).
        typealias Gradients = (dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>?)
        let backward: (Tensor, Gradients) -> Void
        switch AttentionKernel.method(for: s) {
        case .tiled:
            // One log-sum-exp per query row and head; backward recomputes the probabilities.
            let logSumExp = Tensor(uninitialized: [AttentionKernel.logSumExpCount(s)])
            AttentionKernel.forwardTiled(q: qv.pointer, k: kv.pointer, v: vv.pointer, keyMask: mask, scale: sc,
                                         shape: s, out: out.pointer, logSumExp: logSumExp.pointer, pool: pool)
            backward = { [pool] dy, g in
                AttentionKernel.backwardTiled(q: qv.pointer, k: kv.pointer, v: vv.pointer, out: out.pointer,
                                              logSumExp: logSumExp.pointer, dOut: dy.pointer, keyMask: mask,
                                              scale: sc, shape: s, dq: g.dq, dk: g.dk, dv: g.dv, pool: pool)
            }
        case .materialized:
            // Both are written in full: every (batch, head) block of scores and of the output.
            let probs = Tensor(uninitialized: [s.probabilityCount])
            AttentionKernel.forward(q: qv.pointer, k: kv.pointer, v: vv.pointer, keyMask: mask, scale: sc,
                                    shape: s, out: out.pointer, probs: probs.pointer, pool: pool)
            backward = { [pool] dy, g in
                AttentionKernel.backward(q: qv.pointer, k: kv.pointer, v: vv.pointer, probs: probs.pointer,
                                         dOut: dy.pointer, scale: sc, shape: s, dq: g.dq, dk: g.dk, dv: g.dv, pool: pool)
            }
        }
        return result(out, inputs: [query, key, value]) { dy in
            backward(dy.contiguous(), (query.requiresGrad ? query.gradBuffer().pointer : nil,
                                       key.requiresGrad ? key.gradBuffer().pointer : nil,
                                       value.requiresGrad ? value.gradBuffer().pointer : nil))
        }
    }
}
