import Autograd
import Foundation
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
        for p in parameters {
            guard let g = p.variable.grad else { continue }
            let v = store.slot(p.name, "square_avg", shape: p.variable.shape)
            let w = p.variable.value
            let (alpha, eps) = (self.alpha, self.eps)
            let ptrs = UnsafeSendable3(w.pointer, g.pointer, v.pointer)
            pool.parallelFor(w.count, grain: 16384) { r in
                let (w, g, v) = (ptrs.a, ptrs.b, ptrs.c)
                for i in r {
                    v[i] = alpha * v[i] + (1 - alpha) * g[i] * g[i]
                    w[i] -= lr * g[i] / (v[i].squareRoot() + eps)
                }
            }
        }
        stepCount += 1
    }

    public func stateTensors() -> [String: Tensor] { store.slots }

    public func loadState(_ state: [String: Tensor], stepCount: Int, parameters: [NamedParameter]) throws {
        try store.load(state, slotNames: ["square_avg"], parameters: parameters)
        self.stepCount = stepCount
    }
}

/// Three raw pointers handed to worker threads that write disjoint ranges.
struct UnsafeSendable3: @unchecked Sendable {
    let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>
    init(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        self.a = a; self.b = b; self.c = c
    }
}
