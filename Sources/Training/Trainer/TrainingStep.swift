import Autograd
import Foundation
import Model
import Objective
import PluginHost
import TensorCore

/// A value that stopped an update because it was NaN or infinite ("loss", "gradient norm").
public struct NonFiniteValue: Error {
    public let what: String
}

/// What one update produced: every per-example metric of every microbatch (gathered across
/// ranks), the gradient norm before clipping and the learning rate stepped with.
public struct StepOutcome {
    public let metrics: [String: [Float]]
    public let gradNorm: Float
    public let learningRate: Float
}

/// The trainer's step: per microbatch the loss on a recording tape and its backward (seeded
/// with 1/count, so the gradients average), the metrics gathered, then the gradients made whole
/// and clipped, the optimizer stepped at the scheduled learning rate and the gradients cleared
/// (`ParameterUpdate`). `BasicTrainer` runs every update through it; `dpohost bench step` times it.
public final class TrainingStep {
    let update: ParameterUpdate
    let schedule: LearningRateSchedule
    let maxGradNorm: Float
    let pool: WorkerPool
    /// Called at the end of each phase ("backward" per microbatch, "clip", "optimizer").
    public var phase: ((String) -> Void)?
    /// Attached to each microbatch's tape (`bench step --profile-ops`).
    public var profile: OpProfile?

    init(update: ParameterUpdate, schedule: LearningRateSchedule, maxGradNorm: Float, pool: WorkerPool) {
        self.update = update
        self.schedule = schedule
        self.maxGradNorm = maxGradNorm
        self.pool = pool
    }

    /// The step of one process (`BasicTrainer`'s): `parameters` clipped and stepped in place.
    public convenience init(parameters: [NamedParameter], optimizer: Optimizer, schedule: LearningRateSchedule,
                            maxGradNorm: Float, pool: WorkerPool) {
        self.init(update: LocalUpdate(parameters: parameters, optimizer: optimizer, pool: pool), schedule: schedule,
                  maxGradNorm: maxGradNorm, pool: pool)
    }

    /// One update over `microbatches` microbatches; `loss(k, tape)` is microbatch k's loss on
    /// `tape`, `gather` makes the per-example metrics the whole batch's. Throws `NonFiniteValue`
    /// before any parameter changes when the loss or the gradient norm is not finite.
    public func run(microbatches: Int, gather: ([String: [Float]]) throws -> [String: [Float]] = { $0 },
                    loss: (Int, Tape) throws -> LossResult) throws -> StepOutcome {
        let parts = max(1, microbatches)
        var lists: [String: [Float]] = [:]
        for k in 0..<parts {
            let tape = Tape(pool: pool)
            tape.profile = profile
            let outcome = try loss(k, tape)
            guard outcome.loss.value.item.isFinite else { throw NonFiniteValue(what: "loss") }
            try tape.backward(outcome.loss, seed: 1 / Float(parts))
            phase?("backward")
            for m in outcome.metrics { lists[m.name, default: []] += m.values }
        }
        lists = try gather(lists)
        let norm = try update.synchronizeAndClip(maxNorm: maxGradNorm)
        phase?("clip")
        guard norm.isFinite else { throw NonFiniteValue(what: "gradient norm") }
        let lr = schedule.learningRate(completedSteps: update.stepCount)
        try update.step(lr: lr, pool: pool)
        phase?("optimizer")
        return StepOutcome(metrics: lists, gradNorm: norm, learningRate: lr)
    }
}
