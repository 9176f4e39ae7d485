import Foundation
import Model
import Parallel
import TensorCore

/// Tensor parallelism over MPI ranks (`trainer=TensorParallelTrainer`, started with
/// `mpirun -np N`): the linears the model plugin marks column- or row-parallel are split across
/// the ranks (Megatron-LM's layout, see `ShardedLinear`), each rank holding, computing with and
/// optimizing only its 1/N block of them; the rest of the model is replicated. Every rank runs
/// the whole batch; the root logs and writes full checkpoints, loadable at any world size.
public final class TensorParallelTrainer {
    /// The policy and reference, split, before the run directory exists (so a model that cannot
    /// be split fails first).
    public struct Models {
        let group: TensorParallelGroup
        let policy: TensorParallelPlan
        let policyShards: ModelShards
        let reference: TensorParallelPlan?

        /// Splits `policy` and (the same way) `reference` across the ranks of `communicator`.
        public init(policy: LanguageModel, reference: LanguageModel?, communicator: Communicator) throws {
            group = TensorParallelGroup(communicator: communicator)
            self.policy = try policy.shard(over: group)
            policyShards = policy.shards!   // set by shard(over:)
            // The reference is split too: it moves toward the policy block by block (TR-DPO)
            // and costs 1/N of its split linears per rank as well.
            self.reference = try reference?.shard(over: group)
        }
    }

    private let loop: BasicTrainer

    public init(run: TrainingRun, models: Models, pool: WorkerPool, log: @escaping (String) -> Void) throws {
        let update = TensorParallelUpdate(parameters: run.policy.parameters, shards: models.policyShards, group: models.group,
                                          optimizer: try OptimizerFactory.make(run.config.optimizer, weightDecay: run.config.weightDecay))
        let plan = models.policy
        let columns = plan.linears.filter { $0.style == .column }.count
        log("TP: \(plan.worldSize) ranks, \(columns) column-parallel and \(plan.linears.count - columns) row-parallel linears split, the whole batch on every rank")
        let share = RankShare(communicator: models.group.communicator, splitsBatch: false, tensorParallel: models.group)
        try Self.reportSplit(run.policy, share: share, log: log)
        loop = try BasicTrainer(run: run, pool: pool, log: log, share: share, update: update)
    }

    /// Each rank's bytes of split-linear blocks (against their full size) and of replicated
    /// parameters, as held, gathered to the root's log.
    static func reportSplit(_ model: LanguageModel, share: RankShare, log: (String) -> Void) throws {
        let bytes = MemoryLayout<Float>.size
        let shards = model.shards
        var local = 0, full = 0, replicated = 0
        for p in model.parameters {
            if shards?.axes[p.name] != nil {
                local += p.variable.value.count
                full += shards!.fullShapes[p.name]!.reduce(1, *)
            } else {
                replicated += p.variable.value.count
            }
        }
        func mib(_ n: Double) -> String { String(format: "%.3f MiB", n * Double(bytes) / 1_048_576) }
        for (rank, v) in try share.gatherPerRank([local, full, replicated].map(Double.init)).enumerated() {
            log("tensor parallel rank \(rank): split linears \(mib(v[0])) of \(mib(v[1])) in full, replicated parameters \(mib(v[2]))")
        }
    }

    public func train() throws -> TrainingSummary { try loop.train() }
}
