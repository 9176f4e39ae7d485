import Foundation

/// Elementwise activations and their derivatives. Forward writes `y`; backward ACCUMULATES
/// `dx += dy * f'(x)`, so autograd can sum contributions from several uses of `x`.
public enum Pointwise {
    public enum Function: Sendable {
        case geluErf, geluTanh, silu, sigmoid, logSigmoid, exp, log, relu, square
    }

    public static func forward(_ f: Function, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                               count: Int, pool: WorkerPool) {
        let xs = UnsafeSendable(x), ys = UnsafeSendable(y)
        pool.parallelFor(count) { r in
            let x = xs.value, y = ys.value
            switch f {
            case .geluErf:
                var i = VectorMath.activationForward(f, x, y, from: r.lowerBound, to: r.upperBound)
                while i < r.upperBound { y[i] = geluErf(x[i]); i += 1 }
            case .geluTanh:
                var i = VectorMath.activationForward(f, x, y, from: r.lowerBound, to: r.upperBound)
                while i < r.upperBound { y[i] = geluTanh(x[i]); i += 1 }
            case .silu:
                var i = VectorMath.activationForward(f, x, y, from: r.lowerBound, to: r.upperBound)
                while i < r.upperBound { y[i] = x[i] * sigmoid(x[i]); i += 1 }
            case .sigmoid: for i in r { y[i] = sigmoid(x[i]) }
            case .logSigmoid: for i in r { y[i] = logSigmoid(x[i]) }
            case .exp: for i in r { y[i] = Foundation.exp(x[i]) }
            case .log: for i in r { y[i] = Foundation.log(x[i]) }
            case .relu: for i in r { y[i] = x[i] > 0 ? x[i] : 0 }
            case .square: for i in r { y[i] = x[i] * x[i] }
            }
        }
    }

    /// `dx += dy * f'(x)`; `y` is the forward output (used where it is cheaper than recomputing).
    public static func backward(_ f: Function, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                count: Int, pool: WorkerPool) {
        let xs = UnsafeSendable(x), ys = UnsafeSendable(y), dys = UnsafeSendable(dy), dxs = UnsafeSendable(dx)
        pool.parallelFor(count) { r in
            let x = xs.value, y = ys.value, dy = dys.value, dx = dxs.value
            switch f {
            case .geluErf:
                var i = VectorMath.activationBackward(f, x, dy, dx, from: r.lowerBound, to: r.upperBound)
                while i < r.upperBound {
                    // d/dx [x Φ(x)] = Φ(x) + x φ(x)
                    let v = x[i]
                    let cdf = 0.5 * (1 + erf(v * Float(0.70710678118654752)))
                    let pdf = Foundation.exp(-0.5 * v * v) * Float(0.39894228040143268)
                    dx[i] += dy[i] * (cdf + v * pdf)
                    i += 1
                }
            case .geluTanh:
                let c: Float = 0.79788456080286536 // sqrt(2/pi)
                var i = VectorMath.activationBackward(f, x, dy, dx, from: r.lowerBound, to: r.upperBound)
                while i < r.upperBound {
                    let v = x[i]
                    let u = c * (v + 0.044715 * v * v * v)
                    let t = tanh(u)
                    let du = c * (1 + 3 * 0.044715 * v * v)
                    dx[i] += dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du)
                    i += 1
                }
            case .silu:
                var i = VectorMath.activationBackward(f, x, dy, dx, from: r.lowerBound, to: r.upperBound)
                while i < r.upperBound {
                    let s = sigmoid(x[i])
                    dx[i] += dy[i] * (s * (1 + x[i] * (1 - s)))
                    i += 1
                }
            case .sigmoid: for i in r { dx[i] += dy[i] * y[i] * (1 - y[i]) }
            case .logSigmoid: for i in r { dx[i] += dy[i] * sigmoid(-x[i]) }
            case .exp: for i in r { dx[i] += dy[i] * y[i] }
            case .log: for i in r { dx[i] += dy[i] / x[i] }
            case .relu: for i in r { if x[i] > 0 { dx[i] += dy[i] } }
            case .square: for i in r { dx[i] += dy[i] * 2 * x[i] }
            }
        }
    }

    @inline(__always) public static func sigmoid(_ x: Float) -> Float {
        // Split by sign so exp never overflows.
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }

    /// `log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))`, stable for large |x|.
    @inline(__always) public static func logSigmoid(_ x: Float) -> Float {
        min(x, 0) - log1p(Foundation.exp(-abs(x)))
    }

    @inline(__always) public static func geluErf(_ x: Float) -> Float {
        0.5 * x * (1 + erf(x * Float(0.70710678118654752)))
    }

    @inline(__always) public static func geluTanh(_ x: Float) -> Float {
        0.5 * x * (1 + tanh(Float(0.79788456080286536) * (x + 0.044715 * x * x * x)))
    }
}
