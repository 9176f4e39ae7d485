import Autograd
import Configuration
import Foundation
import Model
import TensorCore

/// The learning rate at each optimizer step: `lr` times a multiplier of the steps completed, as
/// a `LambdaLR` over the optimizer computes it (the first update uses the multiplier at 0).
/// `reference` is the DPO reference's: `min(1, (s + 1) / (warmup + 1))`, warmup then constant.
/// The others are transformers' `get_scheduler` schedules, multipliers in its arithmetic:
/// `constant`; `constant_with_warmup`; `linear` (warmup, then down to 0 at `totalSteps`);
/// `cosine` (warmup, then half a cosine to 0); `cosine_with_min_lr` (the cosine floored at
/// `minimumRate`, a fraction of `lr`). The multiplier depends on the completed steps alone, so a
/// resumed run continues the schedule exactly (the total comes from n_examples or n_epochs).
public struct LearningRateSchedule: Sendable, Equatable {
    public typealias Kind = LearningRateScheduleKind

    public let kind: Kind
    public let baseLearningRate: Double
    public let warmupSteps: Int
    /// Optimizer steps of the whole run (where the decaying schedules reach their end).
    public let totalSteps: Int
    public let minimumRate: Double

    public init(kind: Kind = .reference, baseLearningRate: Double, warmupSteps: Int, totalSteps: Int = 0, minimumRate: Double = 0) {
        self.kind = kind
        self.baseLearningRate = baseLearningRate
        self.warmupSteps = max(0, warmupSteps)
        self.totalSteps = max(0, totalSteps)
        self.minimumRate = minimumRate
    }

    /// transformers' warmup for `warmup_ratio`: `ceil(totalSteps * ratio)`.
    public static func warmupSteps(ratio: Double, totalSteps: Int) -> Int {
        Int((Double(totalSteps) * ratio).rounded(.up))
    }

    public func multiplier(completedSteps s: Int) -> Double {
        let step = Double(s), warmup = Double(warmupSteps)
        if kind == .reference { return min(1, (step + 1) / (warmup + 1)) }
        if kind == .constant { return 1 }
        if s < warmupSteps { return step / max(1, warmup) }
        let remaining = Double(totalSteps - warmupSteps)
        switch kind {
        case .constantWithWarmup: return 1
        case .linear: return max(0, Double(totalSteps - s) / max(1, remaining))
        case .cosine, .cosineWithMinLR:
            let progress = (step - warmup) / max(1, remaining)
            // num_cycles 0.5: half a cosine.
            var factor = 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress))
            if kind == .cosineWithMinLR { factor = factor * (1 - minimumRate) + minimumRate }
            return max(0, factor)
        case .reference, .constant: return 1
        }
    }

    public func learningRate(completedSteps s: Int) -> Float {
        // One rounding, of the product as transformers computes it in double.
        Float(baseLearningRate * multiplier(completedSteps: s))
    }
}

/// Global L2-norm gradient clipping as `torch.nn.utils.clip_grad_norm_`.
///
/// The gradients are cut into fixed blocks whose squared sums (SIMD in float, then added in
/// double) are spread over the pool and added in block order, so the norm does not depend on
/// the thread count.
public enum GradientClipping {
    static let block = 1 << 16

    /// The global 2-norm over all gradients.
    public static func globalNorm(_ parameters: [NamedParameter], pool: WorkerPool = .serial) -> Double {
        let grads = parameters.compactMap { $0.variable.grad }
        var blocks: [(pointer: UnsafeMutablePointer<Float>, count: Int)] = []
        for g in grads {
            var at = 0
            while at < g.count {
                blocks.append((g.pointer + at, min(block, g.count - at)))
                at += block
            }
        }
        var partial = [Double](repeating: 0, count: blocks.count)
        partial.withUnsafeMutableBufferPointer { out in
            let shared = UnsafeSendable((blocks: blocks, out: out.baseAddress!)) // each worker fills distinct slots
            pool.parallelFor(blocks.count, grain: 1) { r in
                for i in r { shared.value.out[i] = squaredSum(shared.value.blocks[i].pointer, shared.value.blocks[i].count) }
            }
        }
        return partial.reduce(0, +).squareRoot()
    }

    static func squaredSum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var acc = SIMD8<Float>(), i = 0
        var total = 0.0
        while i + 8 <= n {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            acc += v * v
            i += 8
            if i % 4096 == 0 { total += Double(acc.sum()); acc = SIMD8<Float>() }
        }
        total += Double(acc.sum())
        while i < n { total += Double(p[i]) * Double(p[i]); i += 1 }
        return total
    }

    /// Scales every gradient by `min(1, maxNorm / (norm + 1e-6))`; returns the norm BEFORE
    /// clipping (the value the reference logs as `grad_norm`).
    @discardableResult
    public static func clip(_ parameters: [NamedParameter], maxNorm: Float, pool: WorkerPool = .serial) -> Float {
        let (norm, coefficient) = coefficient(parameters, maxNorm: maxNorm, pool: pool)
        if coefficient < 1 { scale(parameters, by: coefficient, pool: pool) }
        return norm
    }

    /// The global norm and `torch.nn.utils.clip_grad_norm_`'s coefficient `min(1, maxNorm /
    /// (norm + 1e-6))`, without touching the gradients (an optimizer can apply it as it reads them).
    public static func coefficient(_ parameters: [NamedParameter], maxNorm: Float, pool: WorkerPool = .serial) -> (norm: Float, coefficient: Float) {
        let norm = globalNorm(parameters, pool: pool)
        return (Float(norm), Float(min(1, Double(maxNorm) / (norm + 1e-6))))
    }

    /// `grad *= factor` for every gradient.
    public static func scale(_ parameters: [NamedParameter], by factor: Float, pool: WorkerPool = .serial) {
        for p in parameters {
            guard let g = p.variable.grad else { continue }
            let ptr = UnsafeSendable(g.pointer)
            pool.parallelFor(g.count, grain: 1 << 15) { r in for i in r { ptr.value[i] *= factor } }
        }
    }
}
