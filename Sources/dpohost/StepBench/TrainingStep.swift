import Autograd
import Foundation
import Model
import Objective
import PluginHost
import TensorCore
import Training

/// The model inputs of one microbatch: `[N, T]` ids, mask and labels (-100 off the response).
/// For preference losses N = 2B (chosen rows, then rejected rows); for SFT N = B.
struct StepInput {
    let ids: IndexTensor
    let mask: IndexTensor
    let labels: IndexTensor

    init(ids: IndexTensor, mask: IndexTensor, labels: IndexTensor) {
        self.ids = ids; self.mask = mask; self.labels = labels
    }
}

/// A value that stopped an update because it was NaN or infinite ("loss", "gradient norm").
struct NonFiniteValue: Error {
    let what: String
}

/// What one update produced: every per-example metric of every microbatch, and the gradient norm
/// before clipping.
struct UpdateOutcome {
    let metrics: [String: [Float]]
    let gradNorm: Float
}

/// One optimizer update of the policy in one process, op for op what `BasicTrainer.step` runs
/// (with one rank): per microbatch the policy forward (recorded), the frozen reference forward
/// (no grad), the loss plugin and backward; then global-norm clipping, the optimizer step at the
/// scheduled learning rate and zeroed gradients. Built from the same pieces so the
/// benchmark can time each phase and needs no dataset or run directory.
final class TrainingStep {
    let policy: LanguageModel
    var model: ModelLoss
    let optimizer: Optimizer
    let schedule: LearningRateSchedule
    let maxGradNorm: Float
    let pool: WorkerPool
    /// When set, each phase of `run` is timed into it.
    var timer: PhaseTimer?

    init(policy: LanguageModel, reference: LanguageModel?, loss: LossComputation, optimizer: Optimizer,
                schedule: LearningRateSchedule, maxGradNorm: Float, pool: WorkerPool) {
        self.policy = policy
        self.model = ModelLoss(policy: policy, reference: reference, loss: CombinedLoss([WeightedLoss(name: "loss", computation: loss)]),
                               pool: pool)
        self.optimizer = optimizer
        self.schedule = schedule; self.maxGradNorm = maxGradNorm; self.pool = pool
    }

    /// The trainer's own forward + loss (`ModelLoss`) on one microbatch, each part timed.
    /// `chosenOnly` marks an SFT batch (B rows, no rejected half).
    /// `cachedReference`: the reference's summed log-probs of the batch's pairs, computed once
    /// beforehand (`precompute_ref_log_probs`): the reference forward is skipped, as in the trainer.
    func lossOf(_ input: StepInput, chosenOnly: Bool, cachedReference: (chosen: [Float], rejected: [Float])? = nil,
                split: LossMetricSplit, tape: Tape) throws -> LossResult {
        try model.compute(ids: input.ids, mask: input.mask, labels: input.labels, chosenOnly: chosenOnly,
                          cachedReference: cachedReference, split: split, tape: tape, phase: { [timer] in timer?.mark($0) })
    }

    /// The reference's summed log-probs of each pair in `input` (chosen rows, then rejected), as
    /// `ReferenceLogProbCache.fill` computes them before training.
    func referenceLogProbs(_ input: StepInput) throws -> (chosen: [Float], rejected: [Float]) {
        guard let reference = model.reference else { throw BenchError("no reference model to cache log-probs from") }
        let tape = Tape(pool: pool, recording: false)
        let logits = try reference.forward(ids: input.ids, mask: input.mask,
                                           logitRows: model.logitRows(labels: input.labels), tape: tape)
        let sums = try tape.sum(tape.labelLogProbs(logits: logits, labels: input.labels), axis: 1).value.scalars
        let b = sums.count / 2
        return (Array(sums[..<b]), Array(sums[b...]))
    }

    /// Gradients averaged over `microbatches` (each backward seeded with 1/count), then one update.
    /// `cachedReference`, one entry per microbatch, replaces the reference forward.
    func run(_ microbatches: [StepInput], chosenOnly: Bool,
             cachedReference: [(chosen: [Float], rejected: [Float])]? = nil) throws -> UpdateOutcome {
        var lists: [String: [Float]] = [:]
        let seed = 1 / Float(max(1, microbatches.count))
        timer?.restart()
        for (i, input) in microbatches.enumerated() {
            let tape = Tape(pool: pool)
            tape.profile = model.profile
            let outcome = try lossOf(input, chosenOnly: chosenOnly, cachedReference: cachedReference?[i],
                                     split: .train, tape: tape)
            guard outcome.loss.value.item.isFinite else { throw NonFiniteValue(what: "loss") }
            try tape.backward(outcome.loss, seed: seed)
            timer?.mark("backward")
            for m in outcome.metrics { lists[m.name, default: []] += m.values }
        }
        let params = policy.trainableParameters
        let (norm, coefficient) = GradientClipping.coefficient(params, maxNorm: maxGradNorm, pool: pool)
        timer?.mark("clip")
        guard norm.isFinite else { throw NonFiniteValue(what: "gradient norm") }
        try optimizer.step(params, lr: schedule.learningRate(completedSteps: optimizer.stepCount),
                           gradientScale: coefficient, zeroingGradients: true, pool: pool)
        timer?.mark("optimizer")
        return UpdateOutcome(metrics: lists, gradNorm: norm)
    }
}
