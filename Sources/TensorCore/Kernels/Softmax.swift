import Foundation

/// Softmax and log-softmax over the last axis of a dense `[rows, width]` view.
public enum SoftmaxKernel {
    public static func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                               log: Bool, pool: WorkerPool) {
        let p = UnsafeSendable((x, y))
        pool.parallelFor(rows, grain: max(1, 16384 / max(width, 1))) { r in
            let (x, y) = p.value
            for row in r {
                let xr = x + row * width, yr = y + row * width
                let m = VectorMath.max(xr, width)
                let s = VectorMath.sumExp(xr, width, shift: m)
                if log {
                    let lse = m + Foundation.log(s)
                    for i in 0..<width { yr[i] = xr[i] - lse }
                } else {
                    VectorMath.expScaled(xr, yr, width, shift: m, scale: 1 / s)
                }
            }
        }
    }

    /// softmax: `dx += y * (dy - sum(dy * y))`; log-softmax: `dx += dy - exp(y) * sum(dy)`.
    public static func backward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                rows: Int, width: Int, log: Bool, pool: WorkerPool) {
        let p = UnsafeSendable((y, dy, dx))
        pool.parallelFor(rows, grain: max(1, 16384 / max(width, 1))) { r in
            let (y, dy, dx) = p.value
            for row in r {
                let yr = y + row * width, dyr = dy + row * width, dxr = dx + row * width
                if log {
                    var s: Float = 0
                    for i in 0..<width { s += dyr[i] }
                    for i in 0..<width { dxr[i] += dyr[i] }
                    VectorMath.addScaledExp(yr, dxr, width, shift: 0, a: -s)
                } else {
                    var s: Float = 0
                    for i in 0..<width { s += dyr[i] * yr[i] }
                    for i in 0..<width { dxr[i] += yr[i] * (dyr[i] - s) }
                }
            }
        }
    }
}
