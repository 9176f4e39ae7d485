import Distributed
import Foundation
import TensorCore

public enum FSDPConfigError: Error, CustomStringConvertible {
    case indivisible(key: String, value: Int, by: Int, reason: String)
    case unsupported(String)
    public var description: String {
        switch self {
        case let .indivisible(key, value, by, reason): return "\(key)=\(value) must be a multiple of \(by) (\(reason))"
        case let .unsupported(what): return what
        }
    }
}

/// Fully sharded data parallel training over MPI ranks (`trainer=FSDPTrainer`, started with
/// `mpirun -np N`). Each rank takes `batch_size / N` examples of every microbatch; gradients are
/// reduce-scattered so each rank keeps the gradient and optimizer state of its shard of every
/// unit (the model plugin's repeated block, plus one unit for the other parameters), and the
/// updated shards are all-gathered.
///
/// What is sharded on a CPU with one process per core: gradients (after the reduce-scatter) and
/// optimizer state, each 1/N per rank. Parameters are NOT: the full parameters stay resident for
/// forward and backward (the model plugin binds them), next to the 1/N float32 master shard the
/// optimizer updates. Full-size gradients exist only from backward until the reduce-scatter.
public final class FSDPTrainer {
    private let loop: BasicTrainer

    public init(run: TrainingRun, pool: WorkerPool, communicator: Communicator, log: @escaping (String) -> Void) throws {
        let c = run.config
        let n = communicator.size
        try Self.validate(c, worldSize: n)
        let update = ShardedUpdate(parameters: run.policy.parameters, blockName: run.policy.plugin.blockName,
                                   communicator: communicator, optimizer: try OptimizerFactory.make(c.optimizer))
        log("FSDP: \(n) ranks, \(update.layout.units.count) sharded units (blocks '\(run.policy.plugin.blockName)' + \(ShardLayout.outsideBlocks)), \(c.batchSize / n) examples per rank per batch")
        loop = try BasicTrainer(run: run, pool: pool, log: log, share: RankShare(communicator: communicator), update: update)
    }

    /// The config errors a sharded run would meet, checked before a run directory is made.
    public static func validate(_ c: TrainingConfig, worldSize n: Int) throws {
        let perStep = n * max(1, c.gradientAccumulationSteps)
        guard c.batchSize % perStep == 0 else {
            throw FSDPConfigError.indivisible(key: "batch_size", value: c.batchSize, by: perStep,
                                              reason: "each of \(n) ranks takes an equal slice of each of \(max(1, c.gradientAccumulationSteps)) microbatches")
        }
        guard c.evalBatchSize % n == 0 else {
            throw FSDPConfigError.indivisible(key: "eval_batch_size", value: c.evalBatchSize, by: n,
                                              reason: "each of \(n) ranks evaluates an equal slice")
        }
        if let mp = c.model.fsdpPolicyMp {
            throw FSDPConfigError.unsupported("model.fsdp_policy_mp=\(mp): this FSDPTrainer computes and communicates in float32 only")
        }
    }

    public func train() throws -> TrainingSummary { try loop.train() }
}
