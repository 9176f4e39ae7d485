import Foundation

/// The activations whose vector loops are shared by every lane width.
public enum VectorActivation: Sendable {
    case geluErf, geluTanh, silu
}

/// Forward and backward loops of the exp/erf-based activations over `lo..<hi`, a whole vector at a
/// time. Each returns the first index it did not reach (fewer than a vector's width remain); the
/// caller finishes the tail with its scalar form.
public enum ActivationRows<V: FloatLanes> {
    public typealias L = Lanes<V>

    /// `y = f(x)`.
    @inlinable @inline(__always)
    public static func forward(_ f: VectorActivation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                               from lo: Int, to hi: Int) -> Int {
        let w = V.scalarCount
        var i = lo
        switch f {
        case .geluErf: while i + w <= hi { L.store(L.geluErf(L.load(x + i)), y + i); i += w }
        case .geluTanh: while i + w <= hi { L.store(L.geluTanh(L.load(x + i)), y + i); i += w }
        case .silu: while i + w <= hi { L.store(L.silu(L.load(x + i)), y + i); i += w }
        }
        return i
    }

    /// `dx += dy * f'(x)`.
    @inlinable @inline(__always)
    public static func backward(_ f: VectorActivation, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, from lo: Int, to hi: Int) -> Int {
        let w = V.scalarCount
        var i = lo
        switch f {
        case .geluErf:
            // d/dx [x Φ(x)] = Φ(x) + x φ(x)
            while i + w <= hi {
                let v = L.load(x + i)
                let (e, g) = L.erfAndGaussian(v * 0.70710678118654752)
                let cdf = 0.5 * (1 + e)
                let pdf = g * 0.39894228040143268
                L.store(L.load(dx + i) + L.load(dy + i) * (cdf + v * pdf), dx + i)
                i += w
            }
        case .geluTanh:
            // 0.5 (1 + tanh(u)) = sigmoid(2u) = s, and d/dx [x s] = s + 2 x s (1 - s) u'.
            let c: Float = 0.79788456080286536 // sqrt(2/pi)
            while i + w <= hi {
                let v = L.load(x + i)
                let u = c * (v + 0.044715 * v * v * v)
                let s = 1 / (1 + L.exp(-2 * u))
                let du = c * (1 + 3 * 0.044715 * v * v)
                L.store(L.load(dx + i) + L.load(dy + i) * (s + 2 * v * s * (1 - s) * du), dx + i)
                i += w
            }
        case .silu:
            while i + w <= hi {
                let v = L.load(x + i)
                let s = 1 / (1 + L.exp(-v))
                L.store(L.load(dx + i) + L.load(dy + i) * (s * (1 + v * (1 - s))), dx + i)
                i += w
            }
        }
        return i
    }
}
