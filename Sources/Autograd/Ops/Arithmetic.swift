import TensorCore

extension Tape {
    public func add(_ a: Variable, _ b: Variable) throws -> Variable { try binary(.add, a, b, "add") }
    public func sub(_ a: Variable, _ b: Variable) throws -> Variable { try binary(.sub, a, b, "sub") }
    public func mul(_ a: Variable, _ b: Variable) throws -> Variable { try binary(.mul, a, b, "mul") }
    public func div(_ a: Variable, _ b: Variable) throws -> Variable { try binary(.div, a, b, "div") }

    /// Elementwise `a (op) b` with numpy broadcasting; gradients are summed back over broadcast axes.
    private func binary(_ op: Broadcast.Operation, _ a: Variable, _ b: Variable, _ name: String) throws -> Variable {
        guard let outShape = Broadcast.shape(a.shape, b.shape) else {
            throw TensorError.shapeMismatch(op: name, detail: "\(a.shape) and \(b.shape) do not broadcast")
        }
        let av = a.value, bv = b.value
        let out = Broadcast.forward(op, av, bv, outShape: outShape, pool: pool)
        return result(out, inputs: [a, b], op: name) { [pool] dy in
            switch op {
            case .add, .sub:
                if a.requiresGrad { try Tape.accumulateReduced(dy, into: a, pool: pool) }
                if b.requiresGrad { try Tape.accumulateReduced(dy, into: b, sign: op == .add ? 1 : -1, pool: pool) }
            case .mul:
                if a.requiresGrad {
                    try Tape.accumulateReduced(Broadcast.forward(.mul, dy, bv, outShape: outShape, pool: pool), into: a, pool: pool)
                }
                if b.requiresGrad {
                    try Tape.accumulateReduced(Broadcast.forward(.mul, dy, av, outShape: outShape, pool: pool), into: b, pool: pool)
                }
            case .div:
                let dyOverB = Broadcast.forward(.div, dy, bv, outShape: outShape, pool: pool)
                if a.requiresGrad { try Tape.accumulateReduced(dyOverB, into: a, pool: pool) }
                if b.requiresGrad {   // d(a/b)/db = -(a/b)/b = -out/b
                    try Tape.accumulateReduced(Broadcast.forward(.mul, dyOverB, out, outShape: outShape, pool: pool),
                                               into: b, sign: -1, pool: pool)
                }
            }
        }
    }

    /// `x.grad += sign * t` summed over the axes `x` was broadcast along. With nothing to sum and
    /// sign 1 (`1 * t` is `t`, bit for bit) it is `Variable.accumulate`, which writes a first
    /// gradient without zero-filling it first.
    private static func accumulateReduced(_ t: Tensor, into x: Variable, sign: Float = 1, pool: WorkerPool) throws {
        if sign == 1 && t.shape == x.shape {
            try x.accumulate(t, pool: pool)
        } else {
            Broadcast.accumulateReduced(t, into: x.gradBuffer(), sign: sign, pool: pool)
        }
    }

    /// `s * x`.
    public func scale(_ x: Variable, _ s: Float) throws -> Variable {
        let xv = x.value.contiguous()
        let out = Tensor(zeros: x.shape)
        for i in 0..<xv.count { out.pointer[i] = s * xv.pointer[i] }
        return result(out, inputs: [x]) { dy in
            let dy = dy.contiguous(), g = x.gradBuffer().pointer
            for i in 0..<dy.count { g[i] += s * dy.pointer[i] }
        }
    }

    /// `-x`.
    public func neg(_ x: Variable) throws -> Variable { try scale(x, -1) }

    /// `x + s`.
    public func addScalar(_ x: Variable, _ s: Float) throws -> Variable {
        let xv = x.value.contiguous()
        let out = Tensor(zeros: x.shape)
        for i in 0..<xv.count { out.pointer[i] = xv.pointer[i] + s }
        return result(out, inputs: [x]) { [pool] dy in try x.accumulate(dy, pool: pool) }
    }
}
