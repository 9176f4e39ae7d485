import VectorLanes

/// The row kernels in AVX-512 registers: the generic kernels of VectorLanes instantiated for
/// SIMD16 in a module compiled for AVX-512 (Package.swift). Only called where the processor has
/// AVX-512 (TensorCore's `VectorUnitDispatch`); nothing here checks.
public enum Kernels512 {
    public typealias L = Lanes<SIMD16<Float>>

    public static func activationForward(_ f: VectorActivation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                         from lo: Int, to hi: Int) -> Int {
        ActivationRows<SIMD16<Float>>.forward(f, x, y, from: lo, to: hi)
    }

    public static func activationBackward(_ f: VectorActivation, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                          _ dx: UnsafeMutablePointer<Float>, from lo: Int, to hi: Int) -> Int {
        ActivationRows<SIMD16<Float>>.backward(f, x, dy, dx, from: lo, to: hi)
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
}
