import Autograd
import CDPOHostSDK
import TensorCore

/// The differentiable ops of the tensor core, exposed to plugins. Each runs on the call's tape,
/// so a plugin's ops are recorded exactly as the host's own calls would be.
extension HostAPI {
    static func axis(_ a: Int32, rank: Int, _ op: String) throws -> Int {
        let r = a < 0 ? Int(a) + rank : Int(a)
        guard r >= 0, r < max(rank, 1) else {
            throw HostCallError(status: Int32(DPH_ERR_SHAPE), message: "\(op): axis \(a) out of range for rank \(rank)")
        }
        return r
    }

    /// Runs `body` with the call's tape and stores its result as a new handle in `*out`.
    static func op(_ p: OpaquePointer?, _ out: UnsafeMutablePointer<dph_tensor>?,
                   _ body: (CallContext, Tape) throws -> Variable) -> dph_status {
        CallContext.run(p) { ctx in
            let o = try requireOut(out)
            o.pointee = ctx.arena.add(try body(ctx, ctx.arena.tape))
        }
    }

    static func reduce(_ p: OpaquePointer?, _ x: dph_tensor, _ axisArg: Int32, _ keep: Int32,
                       _ out: UnsafeMutablePointer<dph_tensor>?, mean: Bool) -> dph_status {
        HostAPI.op(p, out) { ctx, t in
            let v = try ctx.arena.float(x)
            let a: Int? = axisArg == Int32(DPH_AXIS_ALL) ? nil : try HostAPI.axis(axisArg, rank: v.shape.count, mean ? "mean" : "sum")
            return mean ? try t.mean(v, axis: a, keepDims: keep != 0) : try t.sum(v, axis: a, keepDims: keep != 0)
        }
    }

    /// `linear` or `lm_head`: the operands resolved, then the tensor-parallel interceptor when it
    /// handles the weight, else `run`.
    static func linearCall(_ ctx: CallContext, _ t: Tape, _ x: dph_tensor, _ w: dph_tensor, _ b: dph_tensor,
                           _ layout: dph_linear_layout, input prepare: (Variable) throws -> Variable = { $0 },
                           run: (Variable, Variable, Variable?, LinearLayout) throws -> Variable) throws -> Variable {
        let l: LinearLayout
        switch layout {
        case DPH_LINEAR_OUT_IN: l = .outIn
        case DPH_LINEAR_IN_OUT: l = .inOut
        default: throw HostCallError.invalid("unknown linear layout \(layout.rawValue)")
        }
        let input = try prepare(ctx.arena.float(x, "x")), weight = try ctx.arena.float(w, "weight")
        let bias = try ctx.arena.optionalFloat(b, "bias")
        if let interceptor = ctx.instance?.model?.linearInterceptor,
           let out = try interceptor.linear(input, weight: weight, bias: bias, layout: l, tape: t) {
            return out
        }
        return try run(input, weight, bias, l)
    }

    static func installOps(_ api: inout dph_host_api) {
        api.unary = { p, kind, x, out in HostAPI.op(p, out) { ctx, t in
            let v = try ctx.arena.float(x)
            switch kind {
            case DPH_UNARY_NEG: return try t.neg(v)
            case DPH_UNARY_EXP: return try t.exp(v)
            case DPH_UNARY_LOG: return try t.log(v)
            case DPH_UNARY_SQUARE: return try t.square(v)
            case DPH_UNARY_RELU: return try t.relu(v)
            case DPH_UNARY_SIGMOID: return try t.sigmoid(v)
            case DPH_UNARY_LOG_SIGMOID: return try t.logSigmoid(v)
            case DPH_UNARY_SILU: return try t.silu(v)
            case DPH_UNARY_GELU_ERF: return try t.gelu(v, approximation: .erf)
            case DPH_UNARY_GELU_TANH: return try t.gelu(v, approximation: .tanh)
            case DPH_UNARY_SOFTMAX: return try t.softmax(v)
            case DPH_UNARY_LOG_SOFTMAX: return try t.logSoftmax(v)
            default: throw HostCallError(status: Int32(DPH_ERR_UNSUPPORTED), message: "unknown unary op \(kind.rawValue)")
            }
        } }
        api.binary = { p, kind, a, b, out in HostAPI.op(p, out) { ctx, t in
            let x = try ctx.arena.float(a, "a"), y = try ctx.arena.float(b, "b")
            switch kind {
            case DPH_BINARY_ADD: return try t.add(x, y)
            case DPH_BINARY_SUB: return try t.sub(x, y)
            case DPH_BINARY_MUL: return try t.mul(x, y)
            case DPH_BINARY_DIV: return try t.div(x, y)
            default: throw HostCallError(status: Int32(DPH_ERR_UNSUPPORTED), message: "unknown binary op \(kind.rawValue)")
            }
        } }
        api.scale = { p, x, s, out in HostAPI.op(p, out) { ctx, t in try t.scale(try ctx.arena.float(x), s) } }
        api.add_scalar = { p, x, s, out in HostAPI.op(p, out) { ctx, t in try t.addScalar(try ctx.arena.float(x), s) } }
        api.sum = { p, x, a, keep, out in HostAPI.reduce(p, x, a, keep, out, mean: false) }
        api.mean = { p, x, a, keep, out in HostAPI.reduce(p, x, a, keep, out, mean: true) }
        api.matmul = { p, a, b, ta, tb, out in HostAPI.op(p, out) { ctx, t in
            try t.matmul(try ctx.arena.float(a, "a"), try ctx.arena.float(b, "b"), transposeA: ta != 0, transposeB: tb != 0)
        } }
        api.linear = { p, x, w, b, layout, out in HostAPI.op(p, out) { ctx, t in
            try HostAPI.linearCall(ctx, t, x, w, b, layout) { try t.linear($0, weight: $1, bias: $2, layout: $3) }
        } }
        api.lm_head = { p, x, w, b, layout, out in HostAPI.op(p, out) { ctx, t in
            let pass = ctx.instance?.model?.forwardPass
            return try HostAPI.linearCall(ctx, t, x, w, b, layout, input: { try pass?.packing?.headInput($0, tape: t) ?? $0 }) {
                try t.lmHead($0, weight: $1, bias: $2, layout: $3, rows: pass?.logitRows)
            }
        } }
        api.embedding = { p, ids, table, out in HostAPI.op(p, out) { ctx, t in
            try t.embedding(try ctx.arena.index(ids, "ids"), table: try ctx.arena.float(table, "table"))
        } }
        api.layer_norm = { p, x, w, b, eps, out in HostAPI.op(p, out) { ctx, t in
            try t.layerNorm(try ctx.arena.float(x, "x"), weight: try ctx.arena.float(w, "weight"),
                            bias: try ctx.arena.float(b, "bias"), eps: eps)
        } }
        api.rms_norm = { p, x, w, eps, out in HostAPI.op(p, out) { ctx, t in
            try t.rmsNorm(try ctx.arena.float(x, "x"), weight: try ctx.arena.float(w, "weight"), eps: eps)
        } }
        api.attention = { p, q, k, v, mask, hasScale, scale, out in HostAPI.op(p, out) { ctx, t in
            let query = try ctx.arena.float(q, "query"), key = try ctx.arena.float(k, "key"), value = try ctx.arena.float(v, "value")
            let keyMask = try ctx.arena.optionalIndex(mask, "key_mask"), scale = hasScale != 0 ? scale : nil
            // A packed forward's mask is the sequence's; the packing knows each part's own.
            if let packing = ctx.instance?.model?.forwardPass?.packing {
                return try packing.attention(query: query, key: key, value: value, scale: scale, tape: t)
            }
            return try t.attention(query: query, key: key, value: value, keyMask: keyMask, scale: scale)
        } }
        api.rotary = { p, x, positions, dims, invFreq, n, out in HostAPI.op(p, out) { ctx, t in
            guard n >= 0, n == 0 || invFreq != nil else { throw HostCallError.invalid("inv_freq is NULL for \(n) values") }
            let freqs = n == 0 ? [] : Array(UnsafeBufferPointer(start: invFreq, count: Int(n)))
            return try t.rotary(try ctx.arena.float(x, "x"), positions: try ctx.arena.index(positions, "positions"),
                                rotaryDims: Int(dims), inverseFrequencies: freqs)
        } }
        api.label_log_probs = { p, logits, labels, out in HostAPI.op(p, out) { ctx, t in
            try t.labelLogProbs(logits: try ctx.arena.float(logits, "logits"), labels: try ctx.arena.index(labels, "labels"))
        } }
        api.token_kl = { p, policy, reference, mask, out, underflows in HostAPI.op(p, out) { ctx, t in
            var zeros = 0
            let kl = try t.tokenKL(policy: try ctx.arena.float(policy, "policy_logits"),
                                   reference: try ctx.arena.float(reference, "reference_logits"),
                                   mask: try ctx.arena.float(mask, "mask"), underflows: &zeros)
            underflows?.pointee = Int64(zeros)
            return kl
        } }
        api.concat = { p, xs, n, a, out in HostAPI.op(p, out) { ctx, t in
            guard n > 0, let xs else { throw HostCallError.invalid("concat needs at least one tensor") }
            let vs = try (0..<Int(n)).map { try ctx.arena.float(xs[$0], "input \($0)") }
            return try t.concat(vs, axis: try HostAPI.axis(a, rank: vs[0].shape.count, "concat"))
        } }
        api.split = { p, x, sizes, n, a, out in CallContext.run(p) { ctx in
            guard n > 0, let sizes else { throw HostCallError.invalid("split needs at least one size") }
            let o = try requireOut(out)
            let v = try ctx.arena.float(x)
            let parts = try ctx.arena.tape.split(v, sizes: (0..<Int(n)).map { Int(sizes[$0]) },
                                                 axis: try HostAPI.axis(a, rank: v.shape.count, "split"))
            for (i, part) in parts.enumerated() { o[i] = ctx.arena.add(part) }
        } }
        api.reshape = { p, x, shape, rank, out in HostAPI.op(p, out) { ctx, t in
            guard rank >= 0, rank == 0 || shape != nil else { throw HostCallError.invalid("shape is NULL for rank \(rank)") }
            let dims = (0..<Int(rank)).map { Int(shape![$0]) }
            return try t.reshape(try ctx.arena.float(x), dims)
        } }
        api.transpose = { p, x, a, b, out in HostAPI.op(p, out) { ctx, t in
            let v = try ctx.arena.float(x)
            let r = v.shape.count
            return try t.transpose(v, try HostAPI.axis(a, rank: r, "transpose"), try HostAPI.axis(b, rank: r, "transpose"))
        } }
        api.slice = { p, x, a, start, end, out in HostAPI.op(p, out) { ctx, t in
            let v = try ctx.arena.float(x)
            guard start <= end else {
                throw HostCallError(status: Int32(DPH_ERR_SHAPE), message: "slice: start \(start) > end \(end)")
            }
            return try t.slice(v, axis: try HostAPI.axis(a, rank: v.shape.count, "slice"), range: Int(start)..<Int(end))
        } }
        api.detach = { p, x, out in HostAPI.op(p, out) { ctx, t in t.detach(try ctx.arena.float(x)) } }
    }
}
