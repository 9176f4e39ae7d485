import Autograd
import Foundation
import TensorCore

/// How to pick each next token. The defaults are transformers' `generate` defaults for sampling
/// (temperature 1, top-k 50, top-p 1), which the reference's eval sampling uses.
public struct SamplingOptions: Sendable, Equatable {
    public var maxNewTokens: Int
    public var greedy: Bool
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    public var seed: UInt64
    public var useCache: Bool

    public init(maxNewTokens: Int, greedy: Bool = true, temperature: Float = 1, topK: Int = 50, topP: Float = 1,
                seed: UInt64 = 0, useCache: Bool = true) {
        self.maxNewTokens = maxNewTokens; self.greedy = greedy; self.temperature = temperature
        self.topK = topK; self.topP = topP; self.seed = seed; self.useCache = useCache
    }
}

/// Autoregressive decoding of a batch of prompts, left-padded as transformers pads them for
/// generation, with or without the model plugin's key/value cache. Rows stop at EOS (later
/// positions are filled with the pad id), or after `maxNewTokens`.
public struct Generator {
    public let model: LanguageModel
    public let eosId: Int32
    public let padId: Int32
    public let pool: WorkerPool

    public init(model: LanguageModel, eosId: Int32, padId: Int32, pool: WorkerPool = WorkerPool()) {
        self.model = model
        self.eosId = eosId
        self.padId = padId
        self.pool = pool
    }

    /// The new ids of each row (without the prompt).
    public func generate(prompts: [[Int32]], options: SamplingOptions) throws -> [[Int32]] {
        guard !prompts.isEmpty else { return [] }
        guard prompts.allSatisfy({ !$0.isEmpty }) else {
            throw TensorError.invalidArgument(op: "generate", detail: "every prompt needs at least one token")
        }
        let b = prompts.count
        let width = prompts.map(\.count).max()!
        var ids = prompts.map { [Int32](repeating: padId, count: width - $0.count) + $0 }
        var mask = prompts.map { [Int32](repeating: 0, count: width - $0.count) + [Int32](repeating: 1, count: $0.count) }
        var rng = SplitMix64(seed: options.seed)
        var finished = [Bool](repeating: false, count: b)
        var generated = [[Int32]](repeating: [], count: b)
        let tape = Tape(pool: pool, recording: false)
        model.plugin.resetCache()
        defer { model.plugin.resetCache() }

        for step in 0..<options.maxNewTokens {
            // Positions follow the mask: the first real token of each row is position 0 (pad
            // slots get 1, as transformers fills them), so left padding shifts nothing.
            let positions = mask.map { row -> [Int32] in
                var p: Int32 = -1
                return row.map { m in p += m; return m == 0 ? 1 : p }
            }
            let useCache = options.useCache
            let fresh = useCache && step > 0 ? 1 : ids[0].count
            let inputs = ids.map { Array($0.suffix(fresh)) }
            let logits = try model.forward(
                ids: IndexTensor(shape: [b, fresh], values: inputs.flatMap { $0 }),
                mask: IndexTensor(shape: [b, mask[0].count], values: mask.flatMap { $0 }),
                positions: IndexTensor(shape: [b, fresh], values: positions.flatMap { $0.suffix(fresh) }),
                useCache: useCache, tape: tape)
            let v = logits.shape[2]
            let last = logits.value.contiguous()
            for row in 0..<b {
                let base = (row * fresh + fresh - 1) * v
                let scores = Array(UnsafeBufferPointer(start: last.pointer + base, count: v))
                let next = finished[row] ? padId : pick(scores, options, &rng)
                ids[row].append(next)
                mask[row].append(1)
                if !finished[row] {
                    generated[row].append(next)
                    if next == eosId { finished[row] = true }
                }
            }
            if finished.allSatisfy({ $0 }) { break }
        }
        return generated
    }

    /// Greedy argmax (first maximum on ties, as torch.argmax), or sampling after temperature,
    /// top-k and top-p filtering, in transformers' order.
    func pick(_ scores: [Float], _ o: SamplingOptions, _ rng: inout SplitMix64) -> Int32 {
        if o.greedy {
            var best = 0
            for i in 1..<scores.count where scores[i] > scores[best] { best = i }
            return Int32(best)
        }
        var candidates = scores.enumerated().map { ($0.offset, $0.element / max(o.temperature, 1e-6)) }
            .sorted { $0.1 > $1.1 }
        if o.topK > 0 { candidates = Array(candidates.prefix(o.topK)) }
        let m = candidates[0].1
        var probs = candidates.map { Foundation.exp(Double($0.1 - m)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if o.topP < 1 {
            var cumulative = 0.0, keep = 0
            while keep < probs.count { cumulative += probs[keep]; keep += 1; if cumulative >= Double(o.topP) { break } }
            candidates = Array(candidates.prefix(keep))
            let kept = probs.prefix(keep).reduce(0, +)
            probs = probs.prefix(keep).map { $0 / kept }
        }
        let u = rng.nextUniform()
        var acc = 0.0
        for (i, p) in probs.enumerated() {
            acc += p
            if u < acc { return Int32(candidates[i].0) }
        }
        return Int32(candidates[candidates.count - 1].0)
    }
}
