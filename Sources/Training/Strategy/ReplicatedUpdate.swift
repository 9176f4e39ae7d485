import Autograd
import Foundation
import Model
import Parallel
import TensorCore

/// Parameters every rank holds whole (LoRA's adapters under FSDPTrainer, whose frozen base is
/// sharded): their gradients are averaged over the ranks in one all-reduce, then every rank clips
/// and steps identically, so the copies stay equal and the optimizer state is the same on each.
final class ReplicatedUpdate: ParameterUpdate {
    private let local: LocalUpdate
    let communicator: Communicator

    init(parameters: [NamedParameter], optimizer: Optimizer, communicator: Communicator, pool: WorkerPool) {
        local = LocalUpdate(parameters: parameters, optimizer: optimizer, pool: pool)
        self.communicator = communicator
    }

    var optimizerName: String { local.optimizerName }
    var stepCount: Int { local.stepCount }

    func synchronizeAndClip(maxNorm: Float) throws -> Float {
        let grads = local.parameters.map { p -> Tensor in
            if let g = p.variable.grad { return g }
            let g = Tensor(zeros: p.variable.shape)   // no gradient here still takes part in the sum
            p.variable.setGrad(g)
            return g
        }
        var flat = [Float](repeating: 0, count: grads.reduce(0) { $0 + $1.count })
        var offset = 0
        for g in grads {
            let c = g.contiguous()
            flat.withUnsafeMutableBufferPointer { ($0.baseAddress! + offset).update(from: c.pointer, count: c.count) }
            offset += c.count
        }
        try flat.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        let scale = 1 / Float(communicator.size)
        offset = 0
        for g in grads {
            for i in 0..<g.count { g.pointer[i] = flat[offset + i] * scale }
            offset += g.count
        }
        return try local.synchronizeAndClip(maxNorm: maxNorm)
    }

    func step(lr: Float, pool: WorkerPool) throws { try local.step(lr: lr, pool: pool) }
    func checkpointState() throws -> [String: Tensor] { try local.checkpointState() }
    func load(state: [String: Tensor], stepCount: Int) throws { try local.load(state: state, stepCount: stepCount) }
    func memory() -> TrainingMemory { local.memory() }
}
