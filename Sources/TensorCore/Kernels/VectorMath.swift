import Foundation
import Kernels512

/// Which vector unit the row kernels use: AVX-512 (Kernels512, SIMD16) where the processor has it,
/// AVX2 + FMA (SIMD8, this module) otherwise, decided at run time.
public enum VectorUnitDispatch {
    /// The environment variable that keeps the row kernels on the 8-lane path (`avx2`).
    public static let environmentVariable = "DPOHOST_ROW_KERNELS"

    /// Whether rows go to the AVX-512 kernels. Process-wide like the matrix-product library; tests
    /// switch it to compare both paths.
    nonisolated(unsafe) public static var wide: Bool = ProcessorFeatures.current.vectorUnit == .avx512
        && ProcessInfo.processInfo.environment[environmentVariable]?.lowercased() != "avx2"

    /// Rows shorter than this stay on the 8-lane path: a call into the other module costs more
    /// than the wider lanes save on a few vectors (an attention row's visible keys).
    public static let minimumWideRow = 64

    /// What the row kernels run on, for the lines printed at start.
    public static var summary: String { wide ? "AVX-512 (16 lanes)" : "AVX2+FMA (8 lanes)" }
}

/// The row kernels' vector math: the 8-lane building blocks (`Lanes8`), and pointer-level row
/// helpers that hand long rows to the AVX-512 kernels where the processor has them.
public enum VectorMath {
    public typealias V = SIMD8<Float>
    typealias L = Lanes8

    @inline(__always) public static func exp(_ x: V) -> V { L.exp(x) }
    @inline(__always) public static func multiplyAdd(_ a: V, _ b: V, _ c: V) -> V { L.multiplyAdd(a, b, c) }
    @inline(__always) public static func silu(_ x: V) -> V { L.silu(x) }
    @inline(__always) public static func geluTanh(_ x: V) -> V { L.geluTanh(x) }
    @inline(__always) public static func geluErf(_ x: V) -> V { L.geluErf(x) }
    @inline(__always) public static func erf(_ x: V) -> V { L.erf(x) }
    @inline(__always) public static func erfAndGaussian(_ x: V) -> (erf: V, gaussian: V) { L.erfAndGaussian(x) }
    @inline(__always) public static func anyLane(_ mask: SIMDMask<SIMD8<Int32>>) -> Bool { L.anyLane(mask) }
    @inline(__always) public static func load(_ p: UnsafePointer<Float>) -> V { L.load(p) }
    @inline(__always) public static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { L.store(v, p) }

    @inline(__always) static func wide(_ n: Int) -> Bool { n >= VectorUnitDispatch.minimumWideRow && VectorUnitDispatch.wide }

    /// The maximum of `x[0..<n]` (-inf for n = 0).
    @inline(__always) public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        wide(n) ? Kernels512.max(x, n) : L.max(x, n)
    }
    /// `sum_i x[i]` over `0..<n`, in lanes and then across them.
    @inline(__always) public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        wide(n) ? Kernels512.sum(x, n) : L.sum(x, n)
    }
    /// `sum_i (x[i] - m)^2` over `0..<n`.
    @inline(__always) public static func sumSquaredDeviation(_ x: UnsafePointer<Float>, _ n: Int, from m: Float) -> Float {
        wide(n) ? Kernels512.sumSquaredDeviation(x, n, from: m) : L.sumSquaredDeviation(x, n, from: m)
    }
    /// `sum_i x[i] * y[i]` over `0..<n`.
    @inline(__always) public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        wide(n) ? Kernels512.dot(x, y, n) : L.dot(x, y, n)
    }
    /// `sum_i exp(x[i] - shift)` over `x[0..<n]`.
    @inline(__always) public static func sumExp(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        wide(n) ? Kernels512.sumExp(x, n, shift: shift) : L.sumExp(x, n, shift: shift)
    }
    /// `y[i] = exp(x[i] - shift) * scale` over `0..<n` (x and y may be the same buffer).
    @inline(__always) public static func expScaled(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                                   shift: Float, scale: Float) {
        if wide(n) { Kernels512.expScaled(x, y, n, shift: shift, scale: scale) } else { L.expScaled(x, y, n, shift: shift, scale: scale) }
    }
    /// `x[i] = exp(x[i] - shift)` in place over `0..<n`; returns their sum.
    @inline(__always) public static func expInPlaceSum(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        wide(n) ? Kernels512.expInPlaceSum(x, n, shift: shift) : L.expInPlaceSum(x, n, shift: shift)
    }
    /// `y[i] += a * exp(x[i] - shift)` over `0..<n`.
    @inline(__always) public static func addScaledExp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                                      shift: Float, a: Float) {
        if wide(n) { Kernels512.addScaledExp(x, y, n, shift: shift, a: a) } else { L.addScaledExp(x, y, n, shift: shift, a: a) }
    }

    /// `g[i] = p[i] * (g[i] - rowDot)` over `0..<n` (the softmax's backward).
    @inline(__always) public static func softmaxGradient(_ p: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ n: Int,
                                                         rowDot: Float) {
        if wide(n) { Kernels512.softmaxGradient(p, g, n, rowDot: rowDot) } else { L.softmaxGradient(p, g, n, rowDot: rowDot) }
    }

    /// `y = f(x)` over `lo..<hi` in whole vectors; returns where it stopped (the caller's scalar tail).
    @inline(__always) static func activationForward(_ f: Pointwise.Function, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                                    from lo: Int, to hi: Int) -> Int {
        wide(hi - lo) ? Kernels512.activationForward(f.wide, x, y, from: lo, to: hi)
            : L.activationForward(f.narrow, x, y, from: lo, to: hi)
    }
    /// `dx += dy * f'(x)` over `lo..<hi` in whole vectors; returns where it stopped.
    @inline(__always) static func activationBackward(_ f: Pointwise.Function, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                                     _ dx: UnsafeMutablePointer<Float>, from lo: Int, to hi: Int) -> Int {
        wide(hi - lo) ? Kernels512.activationBackward(f.wide, x, dy, dx, from: lo, to: hi)
            : L.activationBackward(f.narrow, x, dy, dx, from: lo, to: hi)
    }
}

extension Pointwise.Function {
    /// The vector loops of the exp/erf-based activations (only those reach `VectorMath.activation*`).
    var narrow: Lanes8.Activation {
        switch self {
        case .geluErf: .geluErf
        case .geluTanh: .geluTanh
        default: .silu
        }
    }
    var wide: Kernels512.Activation {
        switch self {
        case .geluErf: .geluErf
        case .geluTanh: .geluTanh
        default: .silu
        }
    }
}
