import TensorCore

extension Tape {
    /// Rotary position embedding (rotate-half) on the first `rotaryDims` dims of each head of
    /// `x [B, T, H, d]`; `positions` holds `T` (shared by every row) or `B*T` entries.
    /// `inverseFrequencies` has `rotaryDims / 2` entries (see `RotaryKernel.inverseFrequencies`).
    public func rotary(_ x: Variable, positions: IndexTensor, rotaryDims: Int, inverseFrequencies: [Float]) throws -> Variable {
        let s = x.shape
        guard s.count == 4 else {
            throw TensorError.shapeMismatch(op: "rotary", detail: "input \(s): expected [B, T, H, d]")
        }
        guard rotaryDims % 2 == 0, rotaryDims >= 0, rotaryDims <= s[3], inverseFrequencies.count == rotaryDims / 2 else {
            throw TensorError.invalidArgument(op: "rotary", detail: "rotaryDims \(rotaryDims) with \(inverseFrequencies.count) frequencies for head dim \(s[3]): need an even rotaryDims <= d and rotaryDims/2 frequencies")
        }
        guard positions.count == s[1] || positions.count == s[0] * s[1] else {
            throw TensorError.shapeMismatch(op: "rotary", detail: "positions \(positions.shape) for input \(s): expected [\(s[1])] or [\(s[0]), \(s[1])]")
        }
        let xv = x.value.contiguous()
        let out = Tensor(uninitialized: s)   // written in full: rotated and passed-through dims
        RotaryKernel.apply(x: xv.pointer, y: out.pointer, accumulate: false, batch: s[0], length: s[1], heads: s[2],
                           headDim: s[3], rotaryDims: rotaryDims, positions: positions.values,
                           inverseFrequencies: inverseFrequencies, inverse: false, pool: pool)
        return result(out, inputs: [x]) { [pool] dy in
            let dy = dy.contiguous()
            RotaryKernel.apply(x: dy.pointer, y: x.gradBuffer().pointer, accumulate: true, batch: s[0], length: s[1],
                               heads: s[2], headDim: s[3], rotaryDims: rotaryDims, positions: positions.values,
                               inverseFrequencies: inverseFrequencies, inverse: true, pool: pool)
        }
    }
}
