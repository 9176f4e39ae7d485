import Autograd
import Foundation
import Model
import TensorCore

/// Bytes one rank holds for training state, split the way FSDP shards it.
public struct TrainingMemory: Sendable, Equatable {
    /// The full parameters every forward/backward reads (all-gathered under FSDP).
    public var parameters: Int
    /// The float32 master copy of this rank's parameter shard (FSDP only; 0 otherwise).
    public var masterShard: Int
    /// Gradients kept between steps (BasicTrainer: full; FSDP: this rank's reduced shard).
    public var gradients: Int
    public var optimizerState: Int
    /// What `parameters` holds.
    public var parameterKind = "full, for compute"

    public init(parameters: Int, masterShard: Int, gradients: Int, optimizerState: Int) {
        self.parameters = parameters
        self.masterShard = masterShard
        self.gradients = gradients
        self.optimizerState = optimizerState
    }

    public func line(rank: Int) -> String {
        func mib(_ b: Int) -> String { String(format: "%.3f MiB", Double(b) / 1_048_576) }
        return "memory rank \(rank): parameters \(mib(parameters)) (\(parameterKind)) + master shard \(mib(masterShard)), gradients \(mib(gradients)), optimizer state \(mib(optimizerState))"
    }
}

/// What happens between backward and the next forward: gradient synchronisation, clipping and
/// the optimizer, and the state that goes into a checkpoint.
protocol ParameterUpdate: AnyObject {
    var optimizerName: String { get }
    var stepCount: Int { get }
    /// Makes the gradients final (across ranks) and clips them to `maxNorm`; returns the global
    /// norm before clipping. Nothing is updated yet.
    func synchronizeAndClip(maxNorm: Float) throws -> Float
    /// The optimizer step from the synchronised gradients; leaves the parameters ready for the
    /// next forward and the gradients cleared.
    func step(lr: Float, pool: WorkerPool) throws
    /// The whole optimizer state keyed `<parameter>.<slot>` (collective under FSDP; only the
    /// root's value is complete).
    func checkpointState() throws -> [String: Tensor]
    /// Restores `checkpointState()` output saved at any world size, after the parameters were
    /// loaded from the same checkpoint.
    func load(state: [String: Tensor], stepCount: Int) throws
    func memory() -> TrainingMemory
}

/// One process: the gradients are already complete; clip and step in place (BasicTrainer).
final class LocalUpdate: ParameterUpdate {
    let parameters: [NamedParameter]
    let optimizer: Optimizer
    /// Spreads the gradient norm and scaling over the cores.
    let pool: WorkerPool

    init(parameters: [NamedParameter], optimizer: Optimizer, pool: WorkerPool = .serial) {
        self.parameters = parameters
        self.optimizer = optimizer
        self.pool = pool
    }

    var optimizerName: String { optimizer.name }
    var stepCount: Int { optimizer.stepCount }

    /// The clipping coefficient of the last `synchronizeAndClip`, applied by the optimizer as it
    /// reads the gradients (one pass over them fewer than scaling them in place).
    private var clipCoefficient: Float = 1

    func synchronizeAndClip(maxNorm: Float) throws -> Float {
        let (norm, coefficient) = GradientClipping.coefficient(parameters, maxNorm: maxNorm, pool: pool)
        clipCoefficient = coefficient
        return norm
    }

    func step(lr: Float, pool: WorkerPool) throws {
        defer { clipCoefficient = 1 }
        try optimizer.step(parameters, lr: lr, gradientScale: clipCoefficient, zeroingGradients: true, pool: pool)
    }

    func checkpointState() throws -> [String: Tensor] { optimizer.stateTensors() }

    func load(state: [String: Tensor], stepCount: Int) throws {
        try optimizer.loadState(state, stepCount: stepCount, parameters: parameters)
    }

    func memory() -> TrainingMemory {
        let bytes = MemoryLayout<Float>.size
        return TrainingMemory(parameters: parameters.reduce(0) { $0 + $1.variable.value.count } * bytes, masterShard: 0,
                              gradients: parameters.reduce(0) { $0 + ($1.variable.grad?.count ?? 0) } * bytes,
                              optimizerState: optimizer.stateTensors().values.reduce(0) { $0 + $1.count } * bytes)
    }
}
