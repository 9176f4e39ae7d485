import TensorCore

extension Tape {
    /// Layer norm over the last axis (GPT-2, GPT-NeoX).
    public func layerNorm(_ x: Variable, weight: Variable, bias: Variable, eps: Float) throws -> Variable {
        let width = x.shape.last ?? 0
        guard weight.shape == [width], bias.shape == [width] else {
            throw TensorError.shapeMismatch(op: "layerNorm", detail: "input \(x.shape), weight \(weight.shape), bias \(bias.shape): expected [\(width)]")
        }
        let xv = x.value.contiguous(), wv = weight.value.contiguous(), bv = bias.value.contiguous()
        let rows = width == 0 ? 0 : xv.count / width
        // The kernel writes every row of all three.
        let out = Tensor(uninitialized: x.shape)
        let mean = Tensor(uninitialized: [rows]), rstd = Tensor(uninitialized: [rows])
        LayerNormKernel.forward(x: xv.pointer, weight: wv.pointer, bias: bv.pointer, y: out.pointer,
                                mean: mean.pointer, rstd: rstd.pointer, rows: rows, width: width, eps: eps, pool: pool)
        return result(out, inputs: [x, weight, bias]) { [pool] dy in
            let dy = dy.contiguous()
            LayerNormKernel.backward(x: xv.pointer, weight: wv.pointer, mean: mean.pointer, rstd: rstd.pointer,
                                     dy: dy.pointer,
                                     dx: x.requiresGrad ? x.gradBuffer().pointer : nil,
                                     dweight: weight.requiresGrad ? weight.gradBuffer().pointer : nil,
                                     dbias: bias.requiresGrad ? bias.gradBuffer().pointer : nil,
                                     rows: rows, width: width, pool: pool)
        }
    }

    /// RMS norm over the last axis (Llama).
    public func rmsNorm(_ x: Variable, weight: Variable, eps: Float) throws -> Variable {
        let width = x.shape.last ?? 0
        guard weight.shape == [width] else {
            throw TensorError.shapeMismatch(op: "rmsNorm", detail: "input \(x.shape), weight \(weight.shape): expected [\(width)]")
        }
        let xv = x.value.contiguous(), wv = weight.value.contiguous()
        let rows = width == 0 ? 0 : xv.count / width
        // The kernel writes every row of both.
        let out = Tensor(uninitialized: x.shape)
        let rstd = Tensor(uninitialized: [rows])
        RMSNormKernel.forward(x: xv.pointer, weight: wv.pointer, y: out.pointer, rstd: rstd.pointer,
                              rows: rows, width: width, eps: eps, pool: pool)
        return result(out, inputs: [x, weight]) { [pool] dy in
            let dy = dy.contiguous()
            RMSNormKernel.backward(x: xv.pointer, weight: wv.pointer, rstd: rstd.pointer, dy: dy.pointer,
                                   dx: x.requiresGrad ? x.gradBuffer().pointer : nil,
                                   dweight: weight.requiresGrad ? weight.gradBuffer().pointer : nil,
                                   rows: rows, width: width, pool: pool)
        }
    }
}
