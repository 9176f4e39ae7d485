import Autograd
import Foundation
import Model
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
        try step(parameters, lr: lr, gradientScale: 1, zeroingGradients: false, pool: pool)
    }

    /// One pass over all parameters (spread over the pool, 8 floats at a time) from
    /// `gradient * gradientScale`, zeroing each gradient after it is read when `zeroingGradients`;
    /// the per-element arithmetic is the scalar form's, so results do not change.
    public func step(_ parameters: [NamedParameter], lr: Float, gradientScale scale: Float, zeroingGradients: Bool, pool: WorkerPool) throws {
        let k = stepCount + 1
        let bc1 = 1 - Float(pow(Double(beta1), Double(k)))
        let bc2 = 1 - Float(pow(Double(beta2), Double(k)))
        let (b1, b2, eps, wd, decoupled) = (beta1, beta2, self.eps, weightDecay, self.decoupled)
        let (oneMinusB1, oneMinusB2) = (1 - b1, 1 - b2)
        let bc2Root = bc2.squareRoot()
        let decay = 1 - lr * wd, stepSize = lr / bc1
        let (pointers, counts, distinct) = ElementwiseUpdate.gather(parameters) { p in
            (store.slot(p.name, "exp_avg", shape: p.variable.shape), store.slot(p.name, "exp_avg_sq", shape: p.variable.shape))
        }
        let zero = zeroingGradients && distinct
        ElementwiseUpdate.run(pointers, counts: counts, pool: pool) { p, n in
            let (w, g, m, v) = (p.w, p.g, p.s0!, p.s1!)
            var i = 0
            while i + 8 <= n {
                var grad = g.load8(i) * scale, wi = w.load8(i)
                // PyTorch's form: denom = sqrt(v) / sqrt(bc2) + eps; step = lr / bc1
                if decoupled { wi *= decay } else if wd != 0 { grad += wd * wi }
                let mi = b1 * m.load8(i) + oneMinusB1 * grad
                let vi = b2 * v.load8(i) + oneMinusB2 * grad * grad
                m.store8(mi, i)
                v.store8(vi, i)
                w.store8(wi - stepSize * mi / (vi.squareRoot() / bc2Root + eps), i)
                if zero { g.store8(SIMD8<Float>(), i) }
                i += 8
            }
            while i < n {
                var grad = g[i] * scale
                if decoupled { w[i] *= decay } else if wd != 0 { grad += wd * w[i] }
                m[i] = b1 * m[i] + oneMinusB1 * grad
                v[i] = b2 * v[i] + oneMinusB2 * grad * grad
                w[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Root + eps)
                if zero { g[i] = 0 }
                i += 1
            }
        }
        if zeroingGradients && !distinct { for p in parameters { p.variable.zeroGrad() } }
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
            let ptrs = UnsafeSendable((w: w.pointer, g: g.pointer))
            pool.parallelFor(w.count, grain: 16384) { r in
                for i in r { ptrs.value.w[i] -= lr * ptrs.value.g[i] }
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
