import TensorCore

extension Tape {
    /// Softmax over the last axis.
    public func softmax(_ x: Variable) throws -> Variable { try softmax(x, log: false) }

    /// Log-softmax over the last axis.
    public func logSoftmax(_ x: Variable) throws -> Variable { try softmax(x, log: true) }

    private func softmax(_ x: Variable, log: Bool) throws -> Variable {
        guard let width = x.shape.last, width > 0 else {
            throw TensorError.shapeMismatch(op: log ? "logSoftmax" : "softmax", detail: "input \(x.shape) has an empty last axis")
        }
        let xv = x.value.contiguous()
        let rows = xv.count / width
        let out = Tensor(uninitialized: x.shape)
        SoftmaxKernel.forward(x: xv.pointer, y: out.pointer, rows: rows, width: width, log: log, pool: pool)
        return result(out, inputs: [x], op: log ? "logSoftmax" : "softmax") { [pool] dy in
            let dy = dy.contiguous()
            SoftmaxKernel.backward(y: out.pointer, dy: dy.pointer, dx: x.gradBuffer().pointer,
                                   rows: rows, width: width, log: log, pool: pool)
        }
    }
}
