import Autograd
import Foundation
import PluginHost
import TensorCore

/// The model inputs of one microbatch: `[N, T]` ids, mask and labels (-100 off the response).
/// For preference losses N = 2B (chosen rows, then rejected rows); for SFT N = B.
public struct StepInput {
    public let ids: IndexTensor
    public let mask: IndexTensor
    public let labels: IndexTensor

    public init(ids: IndexTensor, mask: IndexTensor, labels: IndexTensor) {
        self.ids = ids; self.mask = mask; self.labels = labels
    }
}

/// A value that stopped an update because it was NaN or infinite ("loss", "gradient norm").
public struct NonFiniteValue: Error {
    public let what: String
}

/// What one update produced: every per-example metric of every microbatch, and the gradient norm
/// before clipping.
public struct UpdateOutcome {
    public let metrics: [String: [Float]]
    public let gradNorm: Float
}

/// One optimizer update of the policy, as the reference's `BasicTrainer` does it: per microbatch
/// the policy forward (recorded), the frozen reference forward (no grad), the loss plugin and
/// backward; then global-norm clipping, the optimizer step at the scheduled learning rate and
/// zeroed gradients. The trainer and `dpohost bench step` both run exactly this.
public final class PolicyUpdate {
    public let policy: LanguageModel
    public let reference: LanguageModel?
    public let loss: LossComputation
    public let optimizer: Optimizer
    public let schedule: WarmupSchedule
    public let maxGradNorm: Float
    public let pool: WorkerPool
    /// When set, each phase of `run` is timed into it.
    public var timer: PhaseTimer?

    public init(policy: LanguageModel, reference: LanguageModel?, loss: LossComputation, optimizer: Optimizer,
                schedule: WarmupSchedule, maxGradNorm: Float, pool: WorkerPool) {
        self.policy = policy; self.reference = reference; self.loss = loss; self.optimizer = optimizer
        self.schedule = schedule; self.maxGradNorm = maxGradNorm; self.pool = pool
    }

    /// Policy (on `tape`) and reference (no-grad) logits for one microbatch, then the loss plugin.
    /// `chosenOnly` marks an SFT batch (B rows, no rejected half).
    public func lossOf(_ input: StepInput, chosenOnly: Bool, split: LossMetricSplit, tape: Tape) throws -> LossOutcome {
        let logits = try policy.forward(ids: input.ids, mask: input.mask, tape: tape)
        timer?.mark("policy forward")
        let referenceLogits = try reference.map {
            try $0.forward(ids: input.ids, mask: input.mask, tape: Tape(pool: pool, recording: false))
        }
        timer?.mark("reference forward")
        let batch = try LossBatch(policyLogits: logits, referenceLogits: referenceLogits, labels: input.labels,
                                  layout: chosenOnly ? .chosenOnly : .preference)
        let outcome = try loss.compute(batch, split: split, tape: tape)
        timer?.mark("loss")
        return outcome
    }

    /// Gradients averaged over `microbatches` (each backward seeded with 1/count), then one update.
    public func run(_ microbatches: [StepInput], chosenOnly: Bool) throws -> UpdateOutcome {
        var lists: [String: [Float]] = [:]
        let seed = 1 / Float(max(1, microbatches.count))
        timer?.restart()
        for input in microbatches {
            let tape = Tape(pool: pool)
            let outcome = try lossOf(input, chosenOnly: chosenOnly, split: .train, tape: tape)
            guard outcome.loss.value.item.isFinite else { throw NonFiniteValue(what: "loss") }
            try tape.backward(outcome.loss, seed: seed)
            timer?.mark("backward")
            for m in outcome.metrics { lists[m.name, default: []] += m.values }
        }
        let params = policy.parameters
        let norm = GradientClipping.clip(params, maxNorm: maxGradNorm, pool: pool)
        timer?.mark("clip")
        guard norm.isFinite else { throw NonFiniteValue(what: "gradient norm") }
        try optimizer.step(params, lr: schedule.learningRate(completedSteps: optimizer.stepCount), pool: pool)
        for p in params { p.variable.zeroGrad() }
        timer?.mark("optimizer")
        return UpdateOutcome(metrics: lists, gradNorm: norm)
    }
}
