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
                var m: Float = 0
                for i in 0..<width { m += xr[i] }
                m /= Float(width)
                var v: Float = 0
                for i in 0..<width { let d = xr[i] - m; v += d * d }
                v /= Float(width)
                let s = 1 / (v + eps).squareRoot()
                for i in 0..<width { yr[i] = (xr[i] - m) * s * w[i] + b[i] }
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
                    var sumG: Float = 0, sumGX: Float = 0
                    for i in 0..<width {
                        let g = dyr[i] * w[i]
                        sumG += g
                        sumGX += g * (xr[i] - m) * s
                    }
                    let mg = sumG / Float(width), mgx = sumGX / Float(width)
                    for i in 0..<width {
                        let xhat = (xr[i] - m) * s
                        dxr[i] += s * (dyr[i] * w[i] - mg - xhat * mgx)
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
                    for i in cols {
                        dw?[i] += dyr[i] * (xr[i] - m) * s
                        db?[i] += dyr[i]
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
                var ss: Float = 0
                for i in 0..<width { ss += xr[i] * xr[i] }
                let s = 1 / (ss / Float(width) + eps).squareRoot()
                for i in 0..<width { yr[i] = w[i] * (xr[i] * s) }
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
                    var dot: Float = 0
                    for i in 0..<width { dot += dyr[i] * w[i] * xr[i] }
                    let c = s * s * s * dot / Float(width)
                    for i in 0..<width { dxr[i] += s * dyr[i] * w[i] - xr[i] * c }
                }
            }
        }
        if let dweight {
            let p = UnsafeSendable((x, rstd, dy, dweight))
            pool.parallelFor(width, grain: 64) { cols in
                let (x, rstd, dy, dw) = p.value
                for row in 0..<rows {
                    let xr = x + row * width, dyr = dy + row * width, s = rstd[row]
                    for i in cols { dw[i] += dyr[i] * xr[i] * s }
                }
            }
        }
    }
}
