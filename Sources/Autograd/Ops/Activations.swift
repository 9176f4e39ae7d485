import TensorCore

/// Which GELU: the exact erf form (GPT-NeoX `gelu`) or the tanh approximation (GPT-2 `gelu_new`).
public enum GELUApproximation: Sendable { case erf, tanh }

extension Tape {
    public func gelu(_ x: Variable, approximation: GELUApproximation) throws -> Variable {
        pointwise(approximation == .erf ? .geluErf : .geluTanh, x)
    }
    public func silu(_ x: Variable) throws -> Variable { pointwise(.silu, x) }
    public func sigmoid(_ x: Variable) throws -> Variable { pointwise(.sigmoid, x) }
    /// `log(sigmoid(x))`, evaluated stably.
    public func logSigmoid(_ x: Variable) throws -> Variable { pointwise(.logSigmoid, x) }
    public func square(_ x: Variable) throws -> Variable { pointwise(.square, x) }
    public func exp(_ x: Variable) throws -> Variable { pointwise(.exp, x) }
    public func log(_ x: Variable) throws -> Variable { pointwise(.log, x) }
    public func relu(_ x: Variable) throws -> Variable { pointwise(.relu, x) }

    private func pointwise(_ f: Pointwise.Function, _ x: Variable) -> Variable {
        let xv = x.value.contiguous()
        let out = Tensor(uninitialized: x.shape)
        Pointwise.forward(f, x: xv.pointer, y: out.pointer, count: out.count, pool: pool)
        return result(out, inputs: [x], op: "\(f)") { [pool] dy in
            let dy = dy.contiguous()
            Pointwise.backward(f, x: xv.pointer, y: out.pointer, dy: dy.pointer, dx: x.gradBuffer().pointer,
                               count: out.count, pool: pool)
        }
    }
}
