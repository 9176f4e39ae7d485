import Autograd
import Foundation
import TensorCore

/// `torch.optim.Adam` / `AdamW` defaults: betas (0.9, 0.999), eps 1e-8; AdamW decays weights
/// by `lr * wd` before the update (decoupled), Adam adds `wd * w` to the gradient (0 by default).
public final class Adam: Optimizer {
    public var name: String { decoupled ? "AdamW" : "Adam" }
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float, decoupled: Bool
    public private(set) var stepCount = 0
    private let store = SlotStore()

    public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float, decoupled: Bool) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.decoupled = decoupled
    }

    public func step(_ parameters: [NamedParameter], lr: Float, pool: WorkerPool) throws {
        let k = stepCount + 1
        let bc1 = 1 - Float(pow(Double(beta1), Double(k)))
        let bc2 = 1 - Float(pow(Double(beta2), Double(k)))
        let (b1, b2, eps, wd, decoupled) = (beta1, beta2, self.eps, weightDecay, self.decoupled)
        let bc2Root = bc2.squareRoot()
        for p in parameters {
            guard let g = p.variable.grad else { continue }
            let m = store.slot(p.name, "exp_avg", shape: p.variable.shape)
            let v = store.slot(p.name, "exp_avg_sq", shape: p.variable.shape)
            let w = p.variable.value
            let ptrs = UnsafeSendable3(w.pointer, m.pointer, v.pointer)
            let gp = UnsafeSendable3(g.pointer, g.pointer, g.pointer)
            pool.parallelFor(w.count, grain: 16384) { r in
                let (w, m, v, g) = (ptrs.a, ptrs.b, ptrs.c, gp.a)
                for i in r {
                    var grad = g[i]
                    if decoupled { w[i] *= 1 - lr * wd } else if wd != 0 { grad += wd * w[i] }
                    m[i] = b1 * m[i] + (1 - b1) * grad
                    v[i] = b2 * v[i] + (1 - b2) * grad * grad
                    // PyTorch's form: denom = sqrt(v) / sqrt(bc2) + eps; step = lr / bc1
                    let denom = v[i].squareRoot() / bc2Root + eps
                    w[i] -= (lr / bc1) * m[i] / denom
                }
            }
        }
        stepCount = k
    }

    public func stateTensors() -> [String: Tensor] { store.slots }

    public func loadState(_ state: [String: Tensor], stepCount: Int, parameters: [NamedParameter]) throws {
        try store.load(state, slotNames: ["exp_avg", "exp_avg_sq"], parameters: parameters)
        self.stepCount = stepCount
    }
}

/// Plain `torch.optim.SGD` (no momentum): `w -= lr g`.
public final class SGD: Optimizer {
    public let name = "SGD"
    public private(set) var stepCount = 0
    public init() {}

    public func step(_ parameters: [NamedParameter], lr: Float, pool: WorkerPool) throws {
        for p in parameters {
            guard let g = p.variable.grad else { continue }
            let w = p.variable.value
            let ptrs = UnsafeSendable3(w.pointer, g.pointer, g.pointer)
            pool.parallelFor(w.count, grain: 16384) { r in
                for i in r { ptrs.a[i] -= lr * ptrs.b[i] }
            }
        }
        stepCount += 1
    }

    public func stateTensors() -> [String: Tensor] { [:] }

    public func loadState(_ state: [String: Tensor], stepCount: Int, parameters: [NamedParameter]) throws {
        guard state.isEmpty else { throw OptimizerError.stateMismatch("SGD keeps no state, got \(state.keys.sorted())") }
        self.stepCount = stepCount
    }
}
