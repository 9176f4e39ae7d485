import Autograd
import TensorCore

/// Attention alone at long lengths, both methods: what each takes per forward and backward and
/// what each keeps for backward, so the choice of method by length (`AttentionKernel.
/// tiledFromKeyLength`) and the memory claim rest on one table (docs/performance.md, "Long sequences").
extension KernelBench {
    func runAttentionByLength(pool: WorkerPool) {
        print("\nattention by length: one row, causal; GFLOP/s count the visible half of the scores (forward 2 products, backward 4)")
        print(Fmt.pad("heads×d (kv)", 14) + Fmt.pad("T", 7) + Fmt.pad("method", 14) + Fmt.pad("fwd ms", 10)
              + Fmt.pad("bwd ms", 10) + Fmt.pad("fwd GF/s", 10) + Fmt.pad("bwd GF/s", 10) + "kept KiB")
        var rng = SplitMix64(seed: 3)
        for (heads, kvHeads, d) in [(4, 2, 16), (8, 4, 32), (12, 12, 64)] {
            for t in attentionLengths {
                let s = AttentionShape(batch: 1, queryLength: t, keyLength: t, queryHeads: heads, keyValueHeads: kvHeads, headDim: d)
                let q = Tensor.randomNormal([t, heads * d], using: &rng)
                let kv = Tensor.randomNormal([t, kvHeads * d], using: &rng)
                let out = Tensor(zeros: [t, heads * d]), dq = Tensor(zeros: [t, heads * d])
                let dk = Tensor(zeros: [t, kvHeads * d]), dv = Tensor(zeros: [t, kvHeads * d])
                let scale = 1 / Float(d).squareRoot()
                let forwardFlops = 2.0 * 2.0 * Double(heads * d) * Double(t) * Double(t + 1) / 2
                for method in AttentionMethod.allCases {
                    let keptCount = method == .tiled ? AttentionKernel.logSumExpCount(s) : s.probabilityCount
                    let kept = Tensor(zeros: [keptCount])
                    let forward: () -> Void = method == .tiled ? {
                        AttentionKernel.forwardTiled(q: q.pointer, k: kv.pointer, v: kv.pointer, keyMask: nil, scale: scale,
                                                     shape: s, out: out.pointer, logSumExp: kept.pointer, pool: pool)
                    } : {
                        AttentionKernel.forward(q: q.pointer, k: kv.pointer, v: kv.pointer, keyMask: nil, scale: scale,
                                                shape: s, out: out.pointer, probs: kept.pointer, pool: pool)
                    }
                    let backward: () -> Void = method == .tiled ? {
                        AttentionKernel.backwardTiled(q: q.pointer, k: kv.pointer, v: kv.pointer, out: out.pointer,
                                                      logSumExp: kept.pointer, dOut: q.pointer, keyMask: nil, scale: scale,
                                                      shape: s, dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, pool: pool)
                    } : {
                        AttentionKernel.backward(q: q.pointer, k: kv.pointer, v: kv.pointer, probs: kept.pointer,
                                                 dOut: q.pointer, scale: scale, shape: s, dq: dq.pointer, dk: dk.pointer,
                                                 dv: dv.pointer, pool: pool)
                    }
                    let fwd = best(forward), bwd = best(backward)
                    print(Fmt.pad("\(heads)×\(d) (\(kvHeads))", 14) + Fmt.pad("\(t)", 7) + Fmt.pad(method.rawValue, 14)
                          + Fmt.pad(Fmt.f(fwd * 1000, 1), 10) + Fmt.pad(Fmt.f(bwd * 1000, 1), 10)
                          + Fmt.pad(gf(forwardFlops, fwd), 10) + Fmt.pad(gf(2 * forwardFlops, bwd), 10)
                          + Fmt.f(Double(keptCount * 4) / 1024, 1))
                }
            }
        }
    }
}
