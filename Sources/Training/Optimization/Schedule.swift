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
public enum GradientClipping {
    /// The global 2-norm over all gradients (accumulated in double).
    public static func globalNorm(_ parameters: [NamedParameter]) -> Double {
        var total = 0.0
        for p in parameters {
            guard let g = p.variable.grad else { continue }
            let ptr = g.pointer
            var s = 0.0
            for i in 0..<g.count { s += Double(ptr[i]) * Double(ptr[i]) }
            total += s
        }
        return total.squareRoot()
    }

    /// Scales every gradient by `min(1, maxNorm / (norm + 1e-6))`; returns the norm BEFORE
    /// clipping (the value the reference logs as `grad_norm`).
    @discardableResult
    public static func clip(_ parameters: [NamedParameter], maxNorm: Float) -> Float {
        let norm = globalNorm(parameters)
        let coefficient = Float(min(1, Double(maxNorm) / (norm + 1e-6)))
        if coefficient < 1 {
            for p in parameters {
                guard let g = p.variable.grad else { continue }
                let ptr = g.pointer
                for i in 0..<g.count { ptr[i] *= coefficient }
            }
        }
        return Float(norm)
    }
}
