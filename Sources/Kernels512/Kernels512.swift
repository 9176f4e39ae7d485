/// The row kernels in AVX-512 registers: `Lanes16` (RowLanes.swift at 16 lanes) behind calls
/// that are not inlined, in a module compiled for AVX-512 (Package.swift).
/// Only called where the processor has AVX-512 (TensorCore's `VectorUnitDispatch`); nothing here checks.
public enum Kernels512 {
    typealias L = Lanes16
    public typealias Activation = Lanes16.Activation

    public static func activationForward(_ f: Activation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                         from lo: Int, to hi: Int) -> Int {
        L.activationForward(f, x, y, from: lo, to: hi)
    }

    public static func activationBackward(_ f: Activation, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                          _ dx: UnsafeMutablePointer<Float>, from lo: Int, to hi: Int) -> Int {
        L.activationBackward(f, x, dy, dx, from: lo, to: hi)
    }

    public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float { L.max(x, n) }
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float { L.sum(x, n) }
    public static func sumSquaredDeviation(_ x: UnsafePointer<Float>, _ n: Int, from m: Float) -> Float {
        L.sumSquaredDeviation(x, n, from: m)
    }
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float { L.dot(x, y, n) }
    public static func sumExp(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float { L.sumExp(x, n, shift: shift) }
    public static func expScaled(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float, scale: Float) {
        L.expScaled(x, y, n, shift: shift, scale: scale)
    }
    public static func expInPlaceSum(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        L.expInPlaceSum(x, n, shift: shift)
    }
    public static func addScaledExp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float, a: Float) {
        L.addScaledExp(x, y, n, shift: shift, a: a)
    }
    public static func softmaxGradient(_ p: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ n: Int, rowDot: Float) {
        L.softmaxGradient(p, g, n, rowDot: rowDot)
    }
}
