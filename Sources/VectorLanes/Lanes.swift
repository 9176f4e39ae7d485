import Foundation

/// A float vector the kernels are written over: SIMD8 (AVX2, 256-bit registers) or SIMD16
/// (AVX-512). The kernels are generic and inlinable, so each module that uses them compiles them
/// for its own vector unit (TensorCore for AVX2, Kernels512 for AVX-512; docs/performance.md).
public protocol FloatLanes: SIMD where Scalar == Float {
    /// The same lanes as 32-bit integers (exp builds its power of two in them).
    associatedtype Bits: SIMD where Bits.Scalar == UInt32
    /// Whether any lane of `mask` is set, without the standard library's out-of-line reduction.
    static func anyLane(_ mask: SIMDMask<MaskStorage>) -> Bool
}

extension SIMD8: FloatLanes where Scalar == Float {
    public typealias Bits = SIMD8<UInt32>
    @inlinable @inline(__always)
    public static func anyLane(_ mask: SIMDMask<MaskStorage>) -> Bool {
        let bits = unsafeBitCast(mask, to: SIMD4<UInt64>.self)
        return (bits[0] | bits[1]) | (bits[2] | bits[3]) != 0
    }
}

extension SIMD16: FloatLanes where Scalar == Float {
    public typealias Bits = SIMD16<UInt32>
    @inlinable @inline(__always)
    public static func anyLane(_ mask: SIMDMask<MaskStorage>) -> Bool {
        let bits = unsafeBitCast(mask, to: SIMD8<UInt64>.self)
        return ((bits[0] | bits[1]) | (bits[2] | bits[3])) | ((bits[4] | bits[5]) | (bits[6] | bits[7])) != 0
    }
}

/// Building blocks for the row kernels (softmax, log-softmax, label log-probs, attention).
///
/// `exp` is the Cephes single-precision polynomial (about 1 ulp, like `expf`) with the power of
/// two built by the float-to-int bit trick; an argument below -87.3 (where `expf` goes subnormal
/// and then to exactly 0) or above 88 (near overflow) takes `expf` instead, so those values, and
/// thus exact underflows, are `expf`'s.
public enum Lanes<V: FloatLanes> {
    public typealias Vector = V
    /// Floats per vector.
    public static var width: Int { V.scalarCount }

    @inlinable @inline(__always)
    public static func exp(_ x: V) -> V {
        let outside = (x .< -87.3) .| (x .> 88.0)
        if anyLane(outside) {
            // Only the lanes outside take expf, so a value's exp does not depend on its
            // neighbours, nor on the vector width (the 8- and 16-lane kernels agree bit for bit).
            var out = polynomialExp(x.replacing(with: 0, where: outside))
            for i in 0..<V.scalarCount where outside[i] { out[i] = Foundation.exp(x[i]) }
            return out
        }
        return polynomialExp(x)
    }

    /// exp for arguments in [-87.3, 88].
    @inlinable @inline(__always)
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
        let biased = unsafeBitCast(t, to: V.Bits.self) &<< 23
        return p * unsafeBitCast(biased, to: V.self)
    }

    /// Whether any lane of `mask` is set. The standard library's `any` reduces the lanes through a
    /// generic, out-of-line `min()`: a call per vector, which cost `exp` callers half their time.
    @inlinable @inline(__always)
    public static func anyLane(_ mask: SIMDMask<V.MaskStorage>) -> Bool { V.anyLane(mask) }

    /// `a * b + c`: one fused instruction where the build targets FMA (see Package.swift), a
    /// multiply and an add otherwise (a fused multiply-add without the hardware is a libm call).
    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: V, _ b: V, _ c: V) -> V {
        #if DPOHOST_FMA
        return c.addingProduct(a, b)
        #else
        return c + a * b
        #endif
    }

    /// `x * sigmoid(x)` (SiLU).
    @inlinable @inline(__always)
    public static func silu(_ x: V) -> V { x / (1 + exp(-x)) }

    /// GPT-2's `gelu_new`, `0.5 x (1 + tanh(u))` with `u = sqrt(2/pi) (x + 0.044715 x^3)`, as
    /// `x sigmoid(2u)` (the same function, with no cancellation near 0).
    @inlinable @inline(__always)
    public static func geluTanh(_ x: V) -> V {
        let u = 0.79788456080286536 * (x + 0.044715 * x * x * x)
        return x / (1 + exp(-2 * u))
    }

    /// The exact GELU `x Φ(x) = 0.5 x (1 + erf(x / sqrt 2))`.
    @inlinable @inline(__always)
    public static func geluErf(_ x: V) -> V { 0.5 * x * (1 + erf(x * 0.70710678118654752)) }

    /// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, float32's rounding of
    /// values near 1), odd-extended to negative arguments.
    @inlinable @inline(__always)
    public static func erf(_ x: V) -> V { erfAndGaussian(x).erf }

    /// `erf(x)` and `exp(-x^2)`, which the approximation computes on the way (GELU's backward
    /// needs both: the normal density at `x sqrt 2` is `exp(-x^2) / sqrt(2 pi)`).
    @inlinable @inline(__always)
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
    @inlinable @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var m = -Float.infinity
        let w = V.scalarCount
        if n >= w {
            var mv = V(repeating: -.infinity)
            while i + w <= n {
                let v = load(x + i)
                mv = mv.replacing(with: v, where: v .> mv)
                i += w
            }
            // Lane by lane: the stdlib's `max()` reduction is an out-of-line call per row.
            for l in 0..<V.scalarCount { m = Swift.max(m, mv[l]) }
        }
        while i < n { m = Swift.max(m, x[i]); i += 1 }
        return m
    }

    /// `sum_i x[i]` over `0..<n`, in eight lanes and then across them.
    @inlinable @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var acc = V()
        while i + V.scalarCount <= n { acc += load(x + i); i += V.scalarCount }
        var total = acc.sum()
        while i < n { total += x[i]; i += 1 }
        return total
    }

    /// `sum_i (x[i] - m)^2` over `0..<n`.
    @inlinable @inline(__always)
    public static func sumSquaredDeviation(_ x: UnsafePointer<Float>, _ n: Int, from m: Float) -> Float {
        var i = 0
        var acc = V()
        let mv = V(repeating: m)
        while i + V.scalarCount <= n { let d = load(x + i) - mv; acc = multiplyAdd(d, d, acc); i += V.scalarCount }
        var total = acc.sum()
        while i < n { let d = x[i] - m; total += d * d; i += 1 }
        return total
    }

    /// `sum_i x[i] * y[i]` over `0..<n`, in eight lanes and then across them.
    @inlinable @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var acc = V()
        while i + V.scalarCount <= n { acc = multiplyAdd(load(x + i), load(y + i), acc); i += V.scalarCount }
        var total = acc.sum()
        while i < n { total += x[i] * y[i]; i += 1 }
        return total
    }

    /// `sum_i exp(x[i] - shift)` over `x[0..<n]`.
    @inlinable @inline(__always)
    public static func sumExp(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        var i = 0
        var acc = V()
        let s = V(repeating: shift)
        while i + V.scalarCount <= n { acc += exp(load(x + i) - s); i += V.scalarCount }
        var total = acc.sum()
        while i < n { total += Foundation.exp(x[i] - shift); i += 1 }
        return total
    }

    /// `y[i] = exp(x[i] - shift) * scale` over `0..<n` (x and y may be the same buffer).
    @inlinable @inline(__always)
    public static func expScaled(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                 shift: Float, scale: Float) {
        var i = 0
        let s = V(repeating: shift), c = V(repeating: scale)
        while i + V.scalarCount <= n { store(exp(load(x + i) - s) * c, y + i); i += V.scalarCount }
        while i < n { y[i] = Foundation.exp(x[i] - shift) * scale; i += 1 }
    }

    /// `x[i] = exp(x[i] - shift)` in place over `0..<n`; returns their sum.
    @inlinable @inline(__always)
    public static func expInPlaceSum(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        var i = 0
        var acc = V()
        let s = V(repeating: shift)
        while i + V.scalarCount <= n {
            let e = exp(load(x + i) - s)
            store(e, x + i)
            acc += e
            i += V.scalarCount
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
    @inlinable @inline(__always)
    public static func addScaledExp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                    shift: Float, a: Float) {
        var i = 0
        let s = V(repeating: shift), av = V(repeating: a)
        while i + V.scalarCount <= n { store(load(y + i) + av * exp(load(x + i) - s), y + i); i += V.scalarCount }
        while i < n { y[i] += a * Foundation.exp(x[i] - shift); i += 1 }
    }

    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inlinable @inline(__always)
    public static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
}
