import Foundation

/// Layer norm over the last axis: `y = (x - mean) / sqrt(var + eps) * w + b`, biased variance.
/// Forward saves the per-row mean and reciprocal standard deviation for backward.
public enum LayerNormKernel {
    public static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                               y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, rows: Int, width: Int, eps: Float, pool: WorkerPool) {
        let p = UnsafeSendable((x, weight, bias, y, mean, rstd))
        pool.parallelFor(rows, grain: max(1, 16384 / max(width, 1))) { r in
            let (x, w, b, y, mean, rstd) = p.value
            for row in r {
                let xr = x + row * width, yr = y + row * width
                let m = VectorMath.sum(xr, width) / Float(width)
                let v = VectorMath.sumSquaredDeviation(xr, width, from: m) / Float(width)
                let s = 1 / (v + eps).squareRoot()
                var i = 0
                let mv = VectorMath.V(repeating: m), sv = VectorMath.V(repeating: s)
                while i + 8 <= width {
                    let xhat = (VectorMath.load(xr + i) - mv) * sv
                    VectorMath.store(VectorMath.multiplyAdd(xhat, VectorMath.load(w + i), VectorMath.load(b + i)), yr + i)
                    i += 8
                }
                while i < width { yr[i] = (xr[i] - m) * s * w[i] + b[i]; i += 1 }
                mean[row] = m
                rstd[row] = s
            }
        }
    }

    /// Accumulates dx, dweight, dbias (any of them may be nil when not needed).
    public static func backward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                                dbias: UnsafeMutablePointer<Float>?, rows: Int, width: Int, pool: WorkerPool) {
        if let dx {
            let p = UnsafeSendable((x, weight, mean, rstd, dy, dx))
            pool.parallelFor(rows, grain: max(1, 16384 / max(width, 1))) { r in
                let (x, w, mean, rstd, dy, dx) = p.value
                for row in r {
                    let xr = x + row * width, dyr = dy + row * width, dxr = dx + row * width
                    let m = mean[row], s = rstd[row]
                    // dx = s * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w
                    typealias V = VectorMath.V
                    let mv = V(repeating: m), sv = V(repeating: s)
                    var sumGv = V(), sumGXv = V()
                    var i = 0
                    while i + 8 <= width {
                        let g = VectorMath.load(dyr + i) * VectorMath.load(w + i)
                        sumGv += g
                        sumGXv = VectorMath.multiplyAdd(g, (VectorMath.load(xr + i) - mv) * sv, sumGXv)
                        i += 8
                    }
                    var sumG = sumGv.sum(), sumGX = sumGXv.sum()
                    while i < width {
                        let g = dyr[i] * w[i]
                        sumG += g
                        sumGX += g * (xr[i] - m) * s
                        i += 1
                    }
                    let mg = sumG / Float(width), mgx = sumGX / Float(width)
                    let mgv = V(repeating: mg), mgxv = V(repeating: mgx)
                    i = 0
                    while i + 8 <= width {
                        let xhat = (VectorMath.load(xr + i) - mv) * sv
                        let g = VectorMath.load(dyr + i) * VectorMath.load(w + i)
                        VectorMath.store(VectorMath.load(dxr + i) + sv * (g - mgv - xhat * mgxv), dxr + i)
                        i += 8
                    }
                    while i < width {
                        let xhat = (xr[i] - m) * s
                        dxr[i] += s * (dyr[i] * w[i] - mg - xhat * mgx)
                        i += 1
                    }
                }
            }
        }
        if dweight != nil || dbias != nil {
            // Column sums: parallel over columns so workers never share an output element.
            let p = UnsafeSendable((x, mean, rstd, dy, dweight, dbias))
            pool.parallelFor(width, grain: 64) { cols in
                let (x, mean, rstd, dy, dw, db) = p.value
                for row in 0..<rows {
                    let xr = x + row * width, dyr = dy + row * width
                    let m = mean[row], s = rstd[row]
                    let mv = VectorMath.V(repeating: m), sv = VectorMath.V(repeating: s)
                    var i = cols.lowerBound
                    while i + 8 <= cols.upperBound {
                        let g = VectorMath.load(dyr + i)
                        if let dw {
                            VectorMath.store(VectorMath.multiplyAdd(g, (VectorMath.load(xr + i) - mv) * sv,
                                                                    VectorMath.load(dw + i)), dw + i)
                        }
                        if let db { VectorMath.store(VectorMath.load(db + i) + g, db + i) }
                        i += 8
                    }
                    while i < cols.upperBound {
                        dw?[i] += dyr[i] * (xr[i] - m) * s
                        db?[i] += dyr[i]
                        i += 1
                    }
                }
            }
        }
    }
}

/// RMS norm over the last axis (Llama): `y = w * x / sqrt(mean(x^2) + eps)`; no mean, no bias.
public enum RMSNormKernel {
    public static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, rows: Int, width: Int, eps: Float, pool: WorkerPool) {
        let p = UnsafeSendable((x, weight, y, rstd))
        pool.parallelFor(rows, grain: max(1, 16384 / max(width, 1))) { r in
            let (x, w, y, rstd) = p.value
            for row in r {
                let xr = x + row * width, yr = y + row * width
                let ss = VectorMath.dot(xr, xr, width)
                let s = 1 / (ss / Float(width) + eps).squareRoot()
                let sv = VectorMath.V(repeating: s)
                var i = 0
                while i + 8 <= width {
                    VectorMath.store(VectorMath.load(w + i) * (VectorMath.load(xr + i) * sv), yr + i)
                    i += 8
                }
                while i < width { yr[i] = w[i] * (xr[i] * s); i += 1 }
                rstd[row] = s
            }
        }
    }

    public static func backward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                dweight: UnsafeMutablePointer<Float>?, rows: Int, width: Int, pool: WorkerPool) {
        if let dx {
            let p = UnsafeSendable((x, weight, rstd, dy, dx))
            pool.parallelFor(rows, grain: max(1, 16384 / max(width, 1))) { r in
                let (x, w, rstd, dy, dx) = p.value
                for row in r {
                    let xr = x + row * width, dyr = dy + row * width, dxr = dx + row * width
                    let s = rstd[row]
                    // dx = s * g - x * s^3 * mean(g * x), g = dy * w
                    typealias V = VectorMath.V
                    var dotv = V()
                    var i = 0
                    while i + 8 <= width {
                        dotv = VectorMath.multiplyAdd(VectorMath.load(dyr + i) * VectorMath.load(w + i),
                                                      VectorMath.load(xr + i), dotv)
                        i += 8
                    }
                    var dot = dotv.sum()
                    while i < width { dot += dyr[i] * w[i] * xr[i]; i += 1 }
                    let c = s * s * s * dot / Float(width)
                    let sv = V(repeating: s), cv = V(repeating: c)
                    i = 0
                    while i + 8 <= width {
                        let g = sv * VectorMath.load(dyr + i) * VectorMath.load(w + i)
                        VectorMath.store(VectorMath.load(dxr + i) + (g - VectorMath.load(xr + i) * cv), dxr + i)
                        i += 8
                    }
                    while i < width { dxr[i] += s * dyr[i] * w[i] - xr[i] * c; i += 1 }
                }
            }
        }
        if let dweight {
            let p = UnsafeSendable((x, rstd, dy, dweight))
            pool.parallelFor(width, grain: 64) { cols in
                let (x, rstd, dy, dw) = p.value
                for row in 0..<rows {
                    let xr = x + row * width, dyr = dy + row * width, s = rstd[row]
                    let sv = VectorMath.V(repeating: s)
                    var i = cols.lowerBound
                    while i + 8 <= cols.upperBound {
                        VectorMath.store(VectorMath.multiplyAdd(VectorMath.load(dyr + i), VectorMath.load(xr + i) * sv,
                                                                VectorMath.load(dw + i)), dw + i)
                        i += 8
                    }
                    while i < cols.upperBound { dw[i] += dyr[i] * xr[i] * s; i += 1 }
                }
            }
        }
    }
}
