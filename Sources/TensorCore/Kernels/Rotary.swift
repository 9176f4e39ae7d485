import Foundation

/// Rotary position embedding, rotate-half convention: on the first `r` dims of each head,
/// pairs `(i, i + r/2)` rotate by `pos * invFreq[i]`; dims `r..<d` pass unchanged.
/// `x' = x * cos + rot(x) * sin` with `rot(x) = [-x[r/2:], x[:r/2]]`.
public enum RotaryKernel {
    /// `inv_freq[i] = 1 / base^(2i / r)` computed in float32 as transformers does.
    public static func inverseFrequencies(rotaryDims r: Int, base: Float) -> [Float] {
        (0..<(r / 2)).map { i in 1 / pow(base, Float(2 * i) / Float(r)) }
    }

    /// x and y dense `[B, T, H, d]`; `positions` has `T` or `B*T` entries. With `inverse`, rotates
    /// by the negative angle (the backward of a rotation is its transpose).
    public static func apply(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, accumulate: Bool,
                             batch: Int, length: Int, heads: Int, headDim d: Int, rotaryDims r: Int,
                             positions: [Int32], inverseFrequencies inv: [Float], inverse: Bool, pool: WorkerPool) {
        let half = r / 2
        let p = UnsafeSendable((x, y))
        let perRow = positions.count == length
        pool.parallelFor(batch * length, grain: max(1, 4096 / max(heads * d, 1))) { rows in
            let (x, y) = p.value
            var cosv = [Float](repeating: 0, count: half), sinv = [Float](repeating: 0, count: half)
            for bt in rows {
                let pos = Float(perRow ? positions[bt % length] : positions[bt])
                for i in 0..<half {
                    let angle = pos * inv[i]
                    cosv[i] = cos(angle)
                    sinv[i] = inverse ? -sin(angle) : sin(angle)
                }
                for h in 0..<heads {
                    let base = (bt * heads + h) * d
                    let xs = x + base, ys = y + base
                    for i in 0..<half {
                        let a = xs[i], b = xs[i + half]
                        let ya = a * cosv[i] - b * sinv[i]
                        let yb = b * cosv[i] + a * sinv[i]
                        if accumulate { ys[i] += ya; ys[i + half] += yb } else { ys[i] = ya; ys[i + half] = yb }
                    }
                    for i in r..<d {
                        if accumulate { ys[i] += xs[i] } else { ys[i] = xs[i] }
                    }
                }
            }
        }
    }
}
