/// The row kernels' vector math at 16 lanes (AVX-512): the functions are TensorCore's
/// RowLanes.swift (linked here), compiled in this module for AVX-512; this fixes the width.
public enum Lanes16 {
    public typealias V = SIMD16<Float>
    /// A mask of `V` as 64-bit words.
    typealias Words = SIMD8<UInt64>
    @inline(__always) static var width: Int { 16 }
    @inline(__always) static func orWords(_ w: Words) -> UInt64 {
        ((w[0] | w[1]) | (w[2] | w[3])) | ((w[4] | w[5]) | (w[6] | w[7]))
    }
}

/// The type RowLanes.swift extends in this module.
typealias RowLanes = Lanes16
