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
}

/// The trainer's own step (`TrainingStep`) over the trainer's forward and loss (`ModelLoss`) on
/// a fixed batch in one process: no dataset or run directory, and each phase timed when a timer
/// is set.
final class BenchStep {
    var model: ModelLoss
    let step: TrainingStep
    let pool: WorkerPool
    /// When set, each phase of `run` is timed into it.
    var timer: PhaseTimer? {
        didSet { step.phase = timer.map { timer in { timer.mark($0) } } }
    }
    /// When set, every op of the step's tapes (the reference's too) is timed into it.
    var profile: OpProfile? {
        didSet { model.profile = profile; step.profile = profile }
    }

    init(model: ModelLoss, step: TrainingStep) {
        self.model = model
        self.step = step
        pool = model.pool
    }

    /// The trainer's forward + loss on one microbatch, each part timed. `chosenOnly` marks an
    /// SFT batch (B rows, no rejected half). `cachedReference`: the reference's summed log-probs
    /// of the batch's pairs, computed once beforehand (`precompute_ref_log_probs`): the reference
    /// forward is skipped, as in the trainer.
    func lossOf(_ input: StepInput, chosenOnly: Bool, cachedReference: (chosen: [Float], rejected: [Float])? = nil,
                split: LossMetricSplit, tape: Tape) throws -> LossResult {
        try model.compute(ids: input.ids, mask: input.mask, labels: input.labels, chosenOnly: chosenOnly,
                          cachedReference: cachedReference, split: split, tape: tape, phase: { [timer] in timer?.mark($0) })
    }

    /// The reference's summed log-probs of each pair in `input` (chosen rows, then rejected), as
    /// `ReferenceLogProbCache.fill` computes them before training.
    func referenceLogProbs(_ input: StepInput) throws -> (chosen: [Float], rejected: [Float]) {
        guard let reference = model.reference else { throw BenchError("no reference model to cache log-probs from") }
        return try ReferenceLogProbCache.sequenceLogProbs(reference: reference, ids: input.ids, mask: input.mask, labels: input.labels,
                                                          sharePrompts: model.sharesPrompts, pool: pool)
    }

    /// One update: gradients averaged over `microbatches`, then clipped and stepped.
    /// `cachedReference`, one entry per microbatch, replaces the reference forward.
    func run(_ microbatches: [StepInput], chosenOnly: Bool,
             cachedReference: [(chosen: [Float], rejected: [Float])]? = nil) throws -> StepOutcome {
        timer?.restart()
        return try step.run(microbatches: microbatches.count) { k, tape in
            try lossOf(microbatches[k], chosenOnly: chosenOnly, cachedReference: cachedReference?[k], split: .train, tape: tape)
        }
    }
}
