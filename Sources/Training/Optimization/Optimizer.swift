import Autograd
import Foundation
import Model
import TensorCore

/// An optimizer updates parameters in place from their accumulated gradients.
///
/// State tensors are keyed `<parameter name>.<slot>` (e.g. `...weight.square_avg`) so a
/// checkpoint stores them next to the weights and a resumed run restores them by name.
public protocol Optimizer: AnyObject {
    var name: String { get }
    /// Number of completed `step` calls.
    var stepCount: Int { get }
    /// One update with learning rate `lr`. Parameters without a gradient are skipped.
    func step(_ parameters: [NamedParameter], lr: Float, pool: WorkerPool) throws
    /// The same update from every gradient times `gradientScale` (gradient clipping's coefficient,
    /// applied as the gradients are read: the same values as scaling them first), then every
    /// gradient set to zero when `zeroingGradients` (the built-in optimizers do it all in one pass).
    func step(_ parameters: [NamedParameter], lr: Float, gradientScale: Float, zeroingGradients: Bool, pool: WorkerPool) throws
    /// The state to checkpoint.
    func stateTensors() -> [String: Tensor]
    /// Restores `stateTensors()` output; shapes are checked against the parameters.
    func loadState(_ state: [String: Tensor], stepCount: Int, parameters: [NamedParameter]) throws
}

extension Optimizer {
    public func step(_ parameters: [NamedParameter], lr: Float, gradientScale: Float, zeroingGradients: Bool, pool: WorkerPool) throws {
        if gradientScale != 1 { GradientClipping.scale(parameters, by: gradientScale, pool: pool) }
        try step(parameters, lr: lr, pool: pool)
        if zeroingGradients { for p in parameters { p.variable.zeroGrad() } }
    }

    public func step(_ parameters: [NamedParameter], lr: Float, zeroingGradients: Bool, pool: WorkerPool) throws {
        try step(parameters, lr: lr, gradientScale: 1, zeroingGradients: zeroingGradients, pool: pool)
    }
}

public enum OptimizerError: Error, CustomStringConvertible {
    case unknownOptimizer(String)
    case stateMismatch(String)
    case weightDecayUnsupported(String)
    public var description: String {
        switch self {
        case let .unknownOptimizer(n): return "unknown optimizer '\(n)' (choose RMSprop, Adam, AdamW or SGD)"
        case let .stateMismatch(d): return "optimizer state does not fit the model: \(d)"
        case let .weightDecayUnsupported(n): return "weight_decay is applied by Adam and AdamW only, not \(n) (set it to null or 0)"
        }
    }
}

/// Builds the optimizer named in the config with PyTorch's defaults, as the reference does
/// (`torch.optim.<name>(params, lr=lr)`).
public enum OptimizerFactory {
    public static let names = ["RMSprop", "Adam", "AdamW", "SGD"]

    /// `weightDecay` nil is the library's default (AdamW 0.01, the others none); a value is
    /// Adam's L2 term or AdamW's decoupled decay (transformers' `weight_decay`).
    public static func make(_ name: String, weightDecay: Double? = nil) throws -> Optimizer {
        switch name.lowercased() {
        case "rmsprop", "sgd":
            if let weightDecay, weightDecay != 0 { throw OptimizerError.weightDecayUnsupported(name) }
            return name.lowercased() == "sgd" ? SGD() : RMSprop()
        case "adam": return Adam(weightDecay: Float(weightDecay ?? 0), decoupled: false)
        case "adamw": return Adam(weightDecay: Float(weightDecay ?? 0.01), decoupled: true)
        default: throw OptimizerError.unknownOptimizer(name)
        }
    }
}

/// Per-parameter state slots, allocated on first use.
final class SlotStore {
    private(set) var slots: [String: Tensor] = [:]

    func slot(_ parameter: String, _ slot: String, shape: [Int]) -> Tensor {
        let key = "\(parameter).\(slot)"
        if let t = slots[key] { return t }
        let t = Tensor(zeros: shape)
        slots[key] = t
        return t
    }

    func load(_ state: [String: Tensor], slotNames: [String], parameters: [NamedParameter]) throws {
        let shapes = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.variable.shape) })
        var loaded: [String: Tensor] = [:]
        for (key, t) in state {
            guard let slot = slotNames.first(where: { key.hasSuffix("." + $0) }) else {
                throw OptimizerError.stateMismatch("unexpected state tensor '\(key)'")
            }
            let param = String(key.dropLast(slot.count + 1))
            guard let shape = shapes[param] else {
                throw OptimizerError.stateMismatch("state '\(key)' names no parameter of the model")
            }
            guard shape == t.shape else {
                throw OptimizerError.stateMismatch("state '\(key)' has shape \(t.shape), parameter has \(shape)")
            }
            loaded[key] = t.copy()
        }
        slots = loaded
    }
}
