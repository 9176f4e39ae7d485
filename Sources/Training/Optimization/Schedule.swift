import Autograd
import Foundation
import TensorCore

/// The reference's schedule: linear warmup, then constant. The multiplier after `s` completed
/// optimizer steps is `min(1, (s + 1) / (warmup + 1))`, so the first update already uses
/// `lr / (warmup + 1)`.
public struct WarmupSchedule: Sendable, Equatable {
    public let baseLearningRate: Float
    public let warmupSteps: Int

    public init(baseLearningRate: Float, warmupSteps: Int) {
        self.baseLearningRate = baseLearningRate
        self.warmupSteps = max(0, warmupSteps)
    }

    public func multiplier(completedSteps s: Int) -> Float {
        min(1, Float(s + 1) / Float(warmupSteps + 1))
    }

    public func learningRate(completedSteps s: Int) -> Float {
        baseLearningRate * multiplier(completedSteps: s)
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
            let shared = UnsafeSendableBlocks(blocks: blocks, out: out.baseAddress!)
            pool.parallelFor(blocks.count, grain: 1) { r in
                for i in r { shared.out[i] = squaredSum(shared.blocks[i].pointer, shared.blocks[i].count) }
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

/// Gradient blocks and their partial sums, for workers that each fill distinct slots.
private struct UnsafeSendableBlocks: @unchecked Sendable {
    let blocks: [(pointer: UnsafeMutablePointer<Float>, count: Int)]
    let out: UnsafeMutablePointer<Double>
}
