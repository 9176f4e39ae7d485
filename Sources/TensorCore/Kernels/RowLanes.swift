// The row kernels' vector math, written once for both widths: TensorCore compiles this file at
// 8 lanes (`Lanes8`, AVX2 + FMA) and Kernels512 at 16 (`Lanes16`, AVX-512; its copy is a link to
// this file). Each module's `RowLanes` names its own enum, which fixes the vector type `V`, the
// width and the mask reduction; the code is generic in nothing, because Swift's SIMD operators
// are fast only on concrete vector types (docs/performance.md, "Row kernels").
import Foundation

/// Building blocks for the row kernels (softmax, log-softmax, label log-probs, attention).
///
/// `exp` is the Cephes single-precision polynomial (about 1 ulp, like `expf`) with the power of
/// two built by the float-to-int bit trick; an argument below -87.3 (where `expf` goes subnormal
/// and then to exactly 0) or above 88 (near overflow) takes `expf` instead, so those values, and
/// thus exact underflows, are `expf`'s.
extension RowLanes {
    @inline(__always)
    public static func exp(_ x: V) -> V {
        let outside = (x .< -87.3) .| (x .> 88.0)
        if anyLane(outside) {
            // Only the lanes outside take expf, so a value's exp does not depend on its
            // neighbours, nor on the vector width (the 8- and 16-lane kernels agree bit for bit).
            var out = polynomialExp(x.replacing(with: 0, where: outside))
            for i in 0..<width where outside[i] { out[i] = Foundation.exp(x[i]) }
            return out
        }
        return polynomialExp(x)
    }

    /// exp for arguments in [-87.3, 88].
    @inline(__always)
    public static func polynomialExp(_ x: V) -> V {
        // Rounding by adding 1.5·2^23 (+127): t's low mantissa bits hold n + 127, and t - that
        // constant is n as a float (the vector `rounded` calls `rintf` lane by lane). Swift does
        // not contract `a * b + c` on its own: the steps are explicit multiply-adds.
        let t = multiplyAdd(x, V(repeating: 1.44269504088896341), V(repeating: 12583039))
        let n = t - 12583039
        let r = multiplyAdd(n, V(repeating: 2.12194440e-4), multiplyAdd(n, V(repeating: -0.693359375), x))
        var p: V = V(repeating: 1.9875691500e-4)
        p = multiplyAdd(p, r, V(repeating: 1.3981999507e-3))
        p = multiplyAdd(p, r, V(repeating: 8.3334519073e-3))
        p = multiplyAdd(p, r, V(repeating: 4.1665795894e-2))
        p = multiplyAdd(p, r, V(repeating: 1.6666665459e-1))
        p = multiplyAdd(p, r, V(repeating: 5.0000001201e-1))
        p = multiplyAdd(p, r * r, r + 1)
        let biased = unsafeBitCast(t, to: V.MaskStorage.self) &<< 23
        return p * unsafeBitCast(biased, to: V.self)
    }

    /// Whether any lane of `mask` is set. The standard library's `any` reduces the lanes through a
    /// generic, out-of-line `min()`: a call per vector, which cost `exp` callers half their time.
    /// This ORs the mask's 64-bit words in a tree (`orWords`, one per width).
    @inline(__always)
    public static func anyLane(_ mask: SIMDMask<V.MaskStorage>) -> Bool {
        orWords(unsafeBitCast(mask, to: Words.self)) != 0
    }

    /// `a * b + c`: one fused instruction where the build targets FMA (see Package.swift), a
    /// multiply and an add otherwise (a fused multiply-add without the hardware is a libm call).
    @inline(__always)
    public static func multiplyAdd(_ a: V, _ b: V, _ c: V) -> V {
        #if DPOHOST_FMA
        return c.addingProduct(a, b)
        #else
        return c + a * b
        #endif
    }

    /// `x * sigmoid(x)` (SiLU).
    @inline(__always)
    public static func silu(_ x: V) -> V { x / (1 + exp(-x)) }

    /// GPT-2's `gelu_new`, `0.5 x (1 + tanh(u))` with `u = sqrt(2/pi) (x + 0.044715 x^3)`, as
    /// `x sigmoid(2u)` (the same function, with no cancellation near 0).
    @inline(__always)
    public static func geluTanh(_ x: V) -> V {
        let u = 0.79788456080286536 * (x + 0.044715 * x * x * x)
        return x / (1 + exp(-2 * u))
    }

    /// The exact GELU `x Φ(x) = 0.5 x (1 + erf(x / sqrt 2))`.
    @inline(__always)
    public static func geluErf(_ x: V) -> V { 0.5 * x * (1 + erf(x * 0.70710678118654752)) }

    /// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, float32's rounding of
    /// values near 1), odd-extended to negative arguments.
    @inline(__always)
    public static func erf(_ x: V) -> V { erfAndGaussian(x).erf }

    /// `erf(x)` and `exp(-x^2)`, which the approximation computes on the way (GELU's backward
    /// needs both: the normal density at `x sqrt 2` is `exp(-x^2) / sqrt(2 pi)`).
    @inline(__always)
    public static func erfAndGaussian(_ x: V) -> (erf: V, gaussian: V) {
        let a = x.replacing(with: -x, where: x .< 0)
        let t = 1 / multiplyAdd(a, V(repeating: 0.3275911), V(repeating: 1))
        var p = V(repeating: 1.061405429)
        p = multiplyAdd(p, t, V(repeating: -1.453152027))
        p = multiplyAdd(p, t, V(repeating: 1.421413741))
        p = multiplyAdd(p, t, V(repeating: -0.284496736))
        p = multiplyAdd(p, t, V(repeating: 0.254829592))
        let g = exp(-a * a)
        let y = multiplyAdd(-(p * t), g, V(repeating: 1))
        return (y.replacing(with: -y, where: x .< 0), g)
    }

    /// The maximum of `x[0..<n]` (-inf for n = 0).
    @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var m = -Float.infinity
        let w = width
        if n >= w {
            var mv = V(repeating: -.infinity)
            while i + w <= n {
                let v = load(x + i)
                mv = mv.replacing(with: v, where: v .> mv)
                i += w
            }
            // Lane by lane: the stdlib's `max()` reduction is an out-of-line call per row.
            for l in 0..<width { m = Swift.max(m, mv[l]) }
        }
        while i < n { m = Swift.max(m, x[i]); i += 1 }
        return m
    }

    /// `sum_i x[i]` over `0..<n`, in the vector's lanes and then across them.
    @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var acc = V()
        while i + width <= n { acc += load(x + i); i += width }
        var total = acc.sum()
        while i < n { total += x[i]; i += 1 }
        return total
    }

    /// `sum_i (x[i] - m)^2` over `0..<n`.
    @inline(__always)
    public static func sumSquaredDeviation(_ x: UnsafePointer<Float>, _ n: Int, from m: Float) -> Float {
        var i = 0
        var acc = V()
        let mv = V(repeating: m)
        while i + width <= n { let d = load(x + i) - mv; acc = multiplyAdd(d, d, acc); i += width }
        var total = acc.sum()
        while i < n { let d = x[i] - m; total += d * d; i += 1 }
        return total
    }

    /// `sum_i x[i] * y[i]` over `0..<n`, in the vector's lanes and then across them.
    @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var acc = V()
        while i + width <= n { acc = multiplyAdd(load(x + i), load(y + i), acc); i += width }
        var total = acc.sum()
        while i < n { total += x[i] * y[i]; i += 1 }
        return total
    }

    /// `sum_i exp(x[i] - shift)` over `x[0..<n]`.
    @inline(__always)
    public static func sumExp(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        var i = 0
        var acc = V()
        let s = V(repeating: shift)
        while i + width <= n { acc += exp(load(x + i) - s); i += width }
        var total = acc.sum()
        while i < n { total += Foundation.exp(x[i] - shift); i += 1 }
        return total
    }

    /// `y[i] = exp(x[i] - shift) * scale` over `0..<n` (x and y may be the same buffer).
    @inline(__always)
    public static func expScaled(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                 shift: Float, scale: Float) {
        var i = 0
        let s = V(repeating: shift), c = V(repeating: scale)
        while i + width <= n { store(exp(load(x + i) - s) * c, y + i); i += width }
        while i < n { y[i] = Foundation.exp(x[i] - shift) * scale; i += 1 }
    }

    /// `x[i] = exp(x[i] - shift)` in place over `0..<n`; returns their sum.
    @inline(__always)
    public static func expInPlaceSum(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        var i = 0
        var acc = V()
        let s = V(repeating: shift)
        while i + width <= n {
            let e = exp(load(x + i) - s)
            store(e, x + i)
            acc += e
            i += width
        }
        var total = acc.sum()
        if i < n {
            // The last n - i (< width) values through one vector exp, not one libm call each: short
            // rows (an attention row's visible keys) have such a tail every time.
            var v = s
            for l in 0..<(n - i) { v[l] = x[i + l] }
            let e = exp(v - s)
            for l in 0..<(n - i) { x[i + l] = e[l]; total += e[l] }
        }
        return total
    }

    /// `y[i] += a * exp(x[i] - shift)` over `0..<n`.
    @inline(__always)
    public static func addScaledExp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                    shift: Float, a: Float) {
        var i = 0
        let s = V(repeating: shift), av = V(repeating: a)
        while i + width <= n { store(load(y + i) + av * exp(load(x + i) - s), y + i); i += width }
        while i < n { y[i] += a * Foundation.exp(x[i] - shift); i += 1 }
    }

    /// `g[i] = p[i] * (g[i] - rowDot)` over `0..<n`: the softmax's backward, given `rowDot`, the
    /// sum of p times the incoming gradient over the whole row.
    @inline(__always)
    public static func softmaxGradient(_ p: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ n: Int,
                                       rowDot: Float) {
        var i = 0
        let r = V(repeating: rowDot)
        while i + width <= n { store(load(p + i) * (load(g + i) - r), g + i); i += width }
        while i < n { g[i] = p[i] * (g[i] - rowDot); i += 1 }
    }

    @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    public static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// The activations whose vector loops live here.
    public enum Activation: Sendable { case geluErf, geluTanh, silu }

    // Forward and backward loops of the exp/erf-based activations over `lo..<hi`, a whole vector
    // at a time. Each returns the first index it did not reach (fewer than a vector's width
    // remain); the caller finishes the tail with its scalar form.

    /// `y = f(x)`.
    @inline(__always)
    public static func activationForward(_ f: Activation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                               from lo: Int, to hi: Int) -> Int {
        let w = width
        var i = lo
        switch f {
        case .geluErf: while i + w <= hi { store(geluErf(load(x + i)), y + i); i += w }
        case .geluTanh: while i + w <= hi { store(geluTanh(load(x + i)), y + i); i += w }
        case .silu: while i + w <= hi { store(silu(load(x + i)), y + i); i += w }
        }
        return i
    }

    /// `dx += dy * f'(x)`.
    @inline(__always)
    public static func activationBackward(_ f: Activation, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, from lo: Int, to hi: Int) -> Int {
        let w = width
        var i = lo
        switch f {
        case .geluErf:
            // d/dx [x Φ(x)] = Φ(x) + x φ(x)
            while i + w <= hi {
                let v = load(x + i)
                let (e, g) = erfAndGaussian(v * 0.70710678118654752)
                let cdf = 0.5 * (1 + e)
                let pdf = g * 0.39894228040143268
                store(load(dx + i) + load(dy + i) * (cdf + v * pdf), dx + i)
                i += w
            }
        case .geluTanh:
            // 0.5 (1 + tanh(u)) = sigmoid(2u) = s, and d/dx [x s] = s + 2 x s (1 - s) u'.
            let c: Float = 0.79788456080286536 // sqrt(2/pi)
            while i + w <= hi {
                let v = load(x + i)
                let u = c * (v + 0.044715 * v * v * v)
                let s = 1 / (1 + exp(-2 * u))
                let du = c * (1 + 3 * 0.044715 * v * v)
                store(load(dx + i) + load(dy + i) * (s + 2 * v * s * (1 - s) * du), dx + i)
                i += w
            }
        case .silu:
            while i + w <= hi {
                let v = load(x + i)
                let s = 1 / (1 + exp(-v))
                store(load(dx + i) + load(dy + i) * (s * (1 + v * (1 - s))), dx + i)
                i += w
            }
        }
        return i
    }
}
