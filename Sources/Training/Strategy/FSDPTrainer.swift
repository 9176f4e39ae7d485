import Configuration
import Foundation
import Model
import Parallel
import TensorCore

/// Fully sharded data parallel training over MPI ranks (`trainer=FSDPTrainer`, started with
/// `mpirun -np N`). Each rank takes `batch_size / N` examples of every microbatch. The model is cut
/// into units (the model plugin's repeated block, plus one unit for the other parameters); between
/// uses each rank keeps only its slice of every unit of the policy AND of the frozen reference
/// (`FullyShardedParameters`). A unit is all-gathered when the plugin first fetches one of its
/// parameters, freed once the forward moves on, gathered again for its backward, and its
/// gradients are reduce-scattered right after its backward, so each rank keeps the gradient and
/// optimizer state of its slices only. With LoRA the frozen base is sharded the same way (gathered
/// again for backward, which needs it for the input gradients) and the adapters are replicated:
/// their gradients are all-reduced and every rank steps them identically (`ReplicatedUpdate`).
public final class FSDPTrainer {
    private let loop: BasicTrainer

    public init(run: TrainingRun, pool: WorkerPool, communicator: Communicator, log: @escaping (String) -> Void) throws {
        let c = run.config
        let n = communicator.size
        try Self.validate(c, worldSize: n)
        let precision = try Self.precision(c)
        let overlap = c.fsdpOverlap
        let policy = try FullyShardedParameters(model: run.policy, communicator: communicator, precision: precision, overlap: overlap)
        // LoRA's reference is the policy's own (sharded) weights with the adapters off.
        if let reference = run.reference, !reference.isView {
            _ = try FullyShardedParameters(model: reference, communicator: communicator, overlap: overlap)
        }
        let optimizer = try OptimizerFactory.make(c.optimizer, weightDecay: c.weightDecay)
        // LoRA: the frozen base is sharded, the adapters replicated (their gradients all-reduced).
        let update: ParameterUpdate = run.policy.lora == nil
            ? ShardedUpdate(sharded: policy, optimizer: optimizer)
            : ReplicatedUpdate(parameters: run.policy.trainableParameters, optimizer: optimizer, communicator: communicator, pool: pool)
        log("FSDP: \(n) ranks, \(policy.layout.units.count) sharded units (blocks '\(run.policy.plugin.blockName)' + \(ShardLayout.outsideBlocks)), \(c.batchSize / n) examples per rank per batch, \(precision.rawValue) communication for the policy, \(overlap ? "collectives overlapped with compute" : "each collective waited for")\(run.policy.lora == nil ? "" : "; LoRA adapters replicated on every rank")")
        var share = RankShare(communicator: communicator)
        share.parametersSharded = true
        loop = try BasicTrainer(run: run, pool: pool, log: log, share: share, update: update)
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
        _ = try precision(c)
    }

    /// `model.fsdp_policy_mp`: null or float32 (the default), or bfloat16 for the policy's
    /// communication.
    static func precision(_ c: TrainingConfig) throws -> FullyShardedParameters.Precision {
        switch c.model.fsdpPolicyMp {
        case nil, "float32", "fp32": return .float32
        case "bfloat16", "bf16": return .bfloat16
        case let other?:
            throw FSDPConfigError.unsupported("model.fsdp_policy_mp=\(other): FSDPTrainer supports bfloat16 (parameters and gradients communicated in bf16) or float32; this CPU has no float16 arithmetic")
        }
    }

    public func train() throws -> TrainingSummary { try loop.train() }
}
