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
        // Angles once per distinct position of the call (per-row positions mostly repeat: every
        // row of a batch after a shared prompt has the same ones), in float32 as transformers
        // computes them; `low` is the smallest position, the table's first entry.
        // With positions spread wider than there are entries, one table entry per entry instead.
        let low = Int(positions.min() ?? 0), span = Int(positions.max() ?? 0) - low + 1
        let byPosition = span <= positions.count
        let entries = byPosition ? span : positions.count
        var table = [Float](repeating: 0, count: max(1, 2 * entries * half))
        var done = [Bool](repeating: false, count: max(entries, 1))
        for (entry, position) in positions.enumerated() {
            let n = byPosition ? Int(position) - low : entry
            if done[n] { continue }
            done[n] = true
            for i in 0..<half {
                let angle = Float(position) * inv[i]
                table[2 * (n * half + i)] = cos(angle)
                table[2 * (n * half + i) + 1] = inverse ? -sin(angle) : sin(angle)
            }
        }
        table.withUnsafeBufferPointer { tb in
            let angles = UnsafeSendable(tb.baseAddress)
            pool.parallelFor(batch * length, grain: max(1, 4096 / max(heads * d, 1))) { rows in
                let (x, y) = p.value
                for bt in rows {
                    let entry = perRow ? bt % length : bt
                    let n = byPosition ? Int(positions[entry]) - low : entry
                    let cs = angles.value! + 2 * n * half
                    for h in 0..<heads {
                        let base = (bt * heads + h) * d
                        let xs = x + base, ys = y + base
                        for i in 0..<half {
                            let a = xs[i], b = xs[i + half]
                            let c = cs[2 * i], sn = cs[2 * i + 1]
                            let ya = a * c - b * sn
                            let yb = b * c + a * sn
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
}
