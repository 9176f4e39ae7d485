import Dispatch
import Autograd
import TensorCore

/// The non-BLAS kernels of one tiny-shape step (8 rows of 128 tokens, hidden 64, 4 heads of 16,
/// MLP 256, vocab 1000), timed alone: at these shapes they, not the matrix products, set the pace.
extension KernelBench {
    func runRowKernels(pool: WorkerPool) {
        let rows = 8, length = 128, hidden = 64, heads = 4, headDim = 16, mlp = 256, vocab = 1000
        let tokens = rows * length
        var rng = SplitMix64(seed: 2)
        let act = Tensor.randomNormal([tokens, mlp], using: &rng)
        let actOut = Tensor(zeros: [tokens, mlp]), actGrad = Tensor(zeros: [tokens, mlp])
        let h = Tensor.randomNormal([tokens, hidden], using: &rng)
        let hOut = Tensor(zeros: [tokens, hidden]), hGrad = Tensor(zeros: [tokens, hidden])
        let weight = Tensor.randomNormal([hidden], using: &rng), bias = Tensor.randomNormal([hidden], using: &rng)
        let dWeight = Tensor(zeros: [hidden]), dBias = Tensor(zeros: [hidden])
        let mean = Tensor(zeros: [tokens]), rstd = Tensor(zeros: [tokens])
        let logits = Tensor.randomNormal([tokens, vocab], using: &rng), dLogits = Tensor(zeros: [tokens, vocab])
        let labels = (0..<tokens).map { $0 % length < length / 2 ? LabelLogProbsKernel.ignoreIndex : Int32($0 % vocab) }
        let logps = Tensor(zeros: [tokens]), lse = Tensor(zeros: [tokens])
        let dLogps = Tensor(zeros: [tokens]); dLogps.pointer.update(repeating: 1, count: tokens)
        let positions = (0..<length).map(Int32.init)
        let inv = RotaryKernel.inverseFrequencies(rotaryDims: 4, base: 10000)

        print("\nnon-BLAS kernels, tiny step shapes (best of \(repeats), \(pool.threads) threads)")
        print(Fmt.pad("kernel", 34) + Fmt.pad("elements", 12) + Fmt.pad("µs", 10) + "ns/element")
        let cases: [(String, Int, () -> Void)] = [
            ("gelu (erf) forward", tokens * mlp, {
                Pointwise.forward(.geluErf, x: act.pointer, y: actOut.pointer, count: tokens * mlp, pool: pool) }),
            ("gelu (erf) backward", tokens * mlp, {
                Pointwise.backward(.geluErf, x: act.pointer, y: actOut.pointer, dy: act.pointer, dx: actGrad.pointer,
                                   count: tokens * mlp, pool: pool) }),
            ("gelu (tanh) forward", tokens * mlp, {
                Pointwise.forward(.geluTanh, x: act.pointer, y: actOut.pointer, count: tokens * mlp, pool: pool) }),
            ("silu forward", tokens * mlp, {
                Pointwise.forward(.silu, x: act.pointer, y: actOut.pointer, count: tokens * mlp, pool: pool) }),
            ("layer norm forward", tokens * hidden, {
                LayerNormKernel.forward(x: h.pointer, weight: weight.pointer, bias: bias.pointer, y: hOut.pointer,
                                        mean: mean.pointer, rstd: rstd.pointer, rows: tokens, width: hidden,
                                        eps: 1e-5, pool: pool) }),
            ("layer norm backward", tokens * hidden, {
                LayerNormKernel.backward(x: h.pointer, weight: weight.pointer, mean: mean.pointer, rstd: rstd.pointer,
                                         dy: h.pointer, dx: hGrad.pointer, dweight: dWeight.pointer,
                                         dbias: dBias.pointer, rows: tokens, width: hidden, pool: pool) }),
            ("rms norm forward", tokens * hidden, {
                RMSNormKernel.forward(x: h.pointer, weight: weight.pointer, y: hOut.pointer, rstd: rstd.pointer,
                                      rows: tokens, width: hidden, eps: 1e-5, pool: pool) }),
            ("rotary (4 of 16 dims)", tokens * hidden, {
                RotaryKernel.apply(x: h.pointer, y: hOut.pointer, accumulate: false, batch: rows, length: length,
                                   heads: heads, headDim: headDim, rotaryDims: 4, positions: positions,
                                   inverseFrequencies: inv, inverse: false, pool: pool) }),
            ("label log-probs forward", tokens * vocab, {
                LabelLogProbsKernel.forward(logits: logits.pointer, labels: labels, batch: rows, length: length,
                                            vocab: vocab, out: logps.pointer, logSumExp: lse.pointer, pool: pool) }),
            ("label log-probs backward", tokens * vocab, {
                LabelLogProbsKernel.backward(logits: logits.pointer, labels: labels, batch: rows, length: length,
                                             vocab: vocab, logSumExp: lse.pointer, dOut: dLogps.pointer,
                                             dLogits: dLogits.pointer, pool: pool) }),
        ]
        // Both attention paths at the tiny (4 heads of 16), small (8 of 32) and base (12 of 64)
        // shapes, for the choice of path (AttentionKernel.usesSmallHeadKernel).
        var attentionCases: [(String, Int, () -> Void)] = []
        for (heads, d) in [(heads, headDim), (8, 32), (12, 64)] {
            let s = AttentionShape(batch: rows, queryLength: length, keyLength: length,
                                   queryHeads: heads, keyValueHeads: heads, headDim: d)
            let x = Tensor.randomNormal([tokens, heads * d], using: &rng)
            let o = Tensor(zeros: [tokens, heads * d]), pr = Tensor(zeros: [s.probabilityCount])
            let g = Tensor(zeros: [tokens, heads * d])
            attentionCases += [
                ("attention \(heads)×\(d) fwd, sgemm", s.probabilityCount, {
                    AttentionKernel.forwardProducts(q: x.pointer, k: x.pointer, v: x.pointer, keyMask: nil, scale: 0.1,
                                                    shape: s, out: o.pointer, probs: pr.pointer, pool: pool) }),
                ("attention \(heads)×\(d) fwd, small-head", s.probabilityCount, {
                    AttentionKernel.forwardSmallHead(q: x.pointer, k: x.pointer, v: x.pointer, keyMask: nil, scale: 0.1,
                                                     shape: s, out: o.pointer, probs: pr.pointer, pool: pool) }),
                ("attention \(heads)×\(d) bwd, sgemm", s.probabilityCount, {
                    AttentionKernel.backwardProducts(q: x.pointer, k: x.pointer, v: x.pointer, probs: pr.pointer,
                                                     dOut: x.pointer, scale: 0.1, shape: s, dq: g.pointer, dk: g.pointer,
                                                     dv: g.pointer, pool: pool) }),
                ("attention \(heads)×\(d) bwd, small-head", s.probabilityCount, {
                    AttentionKernel.backwardSmallHead(q: x.pointer, k: x.pointer, v: x.pointer, probs: pr.pointer,
                                                      dOut: x.pointer, scale: 0.1, shape: s, dq: g.pointer, dk: g.pointer,
                                                      dv: g.pointer, pool: pool) }),
            ]
        }
        // The rows after a shared prompt of half the sequence: the last half of the queries over
        // every key (each pair's prompt keys repeated), as `share_prompt` runs them.
        do {
            let tq = length - length / 2 + 1
            let s = AttentionShape(batch: rows, queryLength: tq, keyLength: length,
                                   queryHeads: heads, keyValueHeads: heads, headDim: headDim)
            let q = Tensor.randomNormal([rows * tq, heads * headDim], using: &rng)
            let kv = Tensor.randomNormal([tokens, heads * headDim], using: &rng)
            let o = Tensor(zeros: [rows * tq, heads * headDim]), pr = Tensor(zeros: [s.probabilityCount])
            let g = Tensor(zeros: [tokens, heads * headDim]), gq = Tensor(zeros: [rows * tq, heads * headDim])
            attentionCases += [
                ("attention \(heads)×\(headDim) after prompt fwd", s.probabilityCount, {
                    AttentionKernel.forward(q: q.pointer, k: kv.pointer, v: kv.pointer, keyMask: nil, scale: 0.1,
                                            shape: s, out: o.pointer, probs: pr.pointer, pool: pool) }),
                ("attention \(heads)×\(headDim) after prompt bwd", s.probabilityCount, {
                    AttentionKernel.backward(q: q.pointer, k: kv.pointer, v: kv.pointer, probs: pr.pointer,
                                             dOut: o.pointer, scale: 0.1, shape: s, dq: gq.pointer, dk: g.pointer,
                                             dv: g.pointer, pool: pool) }),
            ]
        }
        dispatchLatency(pool: pool)
        for (name, elements, body) in cases + attentionCases {
            let nanoseconds = best(body) * 1e9
            print(Fmt.pad(name, 34) + Fmt.pad("\(elements)", 12) + Fmt.pad(Fmt.f(nanoseconds / 1000, 1), 10)
                  + Fmt.f(nanoseconds / Double(elements), 2))
        }
    }

    /// What one parallel dispatch costs when the workers have been idle for a while (as between
    /// two ops of a step): median over 500 dispatches of `work` per worker, less `work`, after
    /// gaps of 0 to 200 µs.
    func dispatchLatency(pool: WorkerPool) {
        let work: UInt64 = 100_000
        for gap in [0, 20, 200] {
            var times: [Double] = []
            for _ in 0..<500 {
                let until = DispatchTime.now().uptimeNanoseconds + UInt64(gap * 1000)
                while DispatchTime.now().uptimeNanoseconds < until {}
                let start = DispatchTime.now().uptimeNanoseconds
                pool.parallelFor(pool.threads, grain: 1) { _ in
                    let end = DispatchTime.now().uptimeNanoseconds + work
                    while DispatchTime.now().uptimeNanoseconds < end {}
                }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) - Double(work))
            }
            times.sort()
            print("parallel dispatch overhead after \(gap) µs idle: median \(Fmt.f(times[250] / 1000, 1)) µs, "
                  + "90th percentile \(Fmt.f(times[450] / 1000, 1)) µs")
        }
    }

}
