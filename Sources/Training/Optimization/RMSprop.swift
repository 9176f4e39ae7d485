import Autograd
import Foundation
import Model
import TensorCore

/// `torch.optim.RMSprop` defaults (the reference's optimizer): alpha 0.99, eps 1e-8, no momentum,
/// not centered. `v = alpha v + (1 - alpha) g^2; w -= lr g / (sqrt(v) + eps)`.
public final class RMSprop: Optimizer {
    public let name = "RMSprop"
    public let alpha: Float, eps: Float
    public private(set) var stepCount = 0
    private let store = SlotStore()

    public init(alpha: Float = 0.99, eps: Float = 1e-8) {
        self.alpha = alpha
        self.eps = eps
    }

    public func step(_ parameters: [NamedParameter], lr: Float, pool: WorkerPool) throws {
        try step(parameters, lr: lr, gradientScale: 1, zeroingGradients: false, pool: pool)
    }

    /// One pass over all parameters (spread over the pool, 8 floats at a time): the update from
    /// `gradient * gradientScale` and, with `zeroingGradients`, the gradient set to zero right
    /// after it is read. Each element gets exactly the arithmetic of the scalar form above (the
    /// product rounded once, as a separate scaling pass would store it), so results do not change.
    public func step(_ parameters: [NamedParameter], lr: Float, gradientScale scale: Float, zeroingGradients: Bool, pool: WorkerPool) throws {
        let (pointers, counts, distinct) = ElementwiseUpdate.gather(parameters) { p in
            (store.slot(p.name, "square_avg", shape: p.variable.shape), nil)
        }
        let zero = zeroingGradients && distinct
        let (alpha, oneMinusAlpha, eps) = (self.alpha, 1 - self.alpha, self.eps)
        ElementwiseUpdate.run(pointers, counts: counts, pool: pool) { p, n in
            let (w, g, v) = (p.w, p.g, p.s0!)
            var i = 0
            while i + 8 <= n {
                let gi = g.load8(i) * scale
                let vi = alpha * v.load8(i) + oneMinusAlpha * gi * gi
                v.store8(vi, i)
                w.store8(w.load8(i) - lr * gi / (vi.squareRoot() + eps), i)
                if zero { g.store8(SIMD8<Float>(), i) }
                i += 8
            }
            while i < n {
                let gi = g[i] * scale
                v[i] = alpha * v[i] + oneMinusAlpha * gi * gi
                w[i] -= lr * gi / (v[i].squareRoot() + eps)
                if zero { g[i] = 0 }
                i += 1
            }
        }
        if zeroingGradients && !distinct { for p in parameters { p.variable.zeroGrad() } }
        stepCount += 1
    }

    public func stateTensors() -> [String: Tensor] { store.slots }

    public func loadState(_ state: [String: Tensor], stepCount: Int, parameters: [NamedParameter]) throws {
        try store.load(state, slotNames: ["square_avg"], parameters: parameters)
        self.stepCount = stepCount
    }
}
