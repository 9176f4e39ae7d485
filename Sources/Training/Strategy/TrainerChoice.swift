import Configuration
import Foundation
import Model
import Parallel
import TensorCore

/// A run's trainer: the one loop (`BasicTrainer`), in one process or spread over ranks by a
/// strategy (its `RankShare` and `ParameterUpdate`).
protocol Trainer {
    func train() throws -> TrainingSummary
}

extension BasicTrainer: Trainer {}
extension FSDPTrainer: Trainer {}
extension TensorParallelTrainer: Trainer {}

/// Where `trainer=` is acted on, and nowhere else: the world the strategy runs in, what it does
/// to the models before the run directory exists, and the trainer it builds.
extension TrainerStrategy {
    /// The MPI world for FSDP and tensor parallelism (one per process); BasicTrainer runs alone.
    func startWorld(_ config: TrainingConfig) throws -> MPIWorld? {
        switch self {
        case .basic:
            let ranks = TrainingSession.launchedRanks
            guard ranks <= 1 else {
                throw TrainingSetupError("BasicTrainer runs in one process, but mpirun started \(ranks); use trainer=FSDPTrainer or trainer=TensorParallelTrainer")
            }
            return nil
        case .fullySharded:
            let world = try MPIWorld(collectiveTimeout: config.collectiveTimeoutSecs > 0 ? config.collectiveTimeoutSecs : nil)
            try FSDPTrainer.validate(config, worldSize: world.communicator.size)
            return world
        case .tensorParallel:
            return try MPIWorld(collectiveTimeout: config.collectiveTimeoutSecs > 0 ? config.collectiveTimeoutSecs : nil)
        }
    }

    /// Tensor parallelism's split of the models, made before the run directory exists so that a
    /// model that cannot be split fails first; nil for the other strategies.
    func splitModels(policy: LanguageModel, reference: LanguageModel?,
                     communicator: Communicator?) throws -> TensorParallelTrainer.Models? {
        guard self == .tensorParallel, let communicator else { return nil }
        return try TensorParallelTrainer.Models(policy: policy, reference: reference, communicator: communicator)
    }

    /// The trainer of `run`: `split` from `splitModels`, `communicator` from `startWorld`'s world.
    func makeTrainer(run: TrainingRun, split: TensorParallelTrainer.Models?, communicator: Communicator?,
                     pool: WorkerPool, log: @escaping (String) -> Void) throws -> any Trainer {
        switch (self, communicator, split) {
        case let (.tensorParallel, _, models?):
            return try TensorParallelTrainer(run: run, models: models, pool: pool, log: log)
        case let (.fullySharded, communicator?, _):
            return try FSDPTrainer(run: run, pool: pool, communicator: communicator, log: log)
        default:   // BasicTrainer (startWorld made a world for the other two)
            return try BasicTrainer(run: run, pool: pool, log: log)
        }
    }
}
