/// The row kernels' vector math at 8 lanes (AVX2 + FMA): the functions are RowLanes.swift's,
/// which Kernels512 compiles again at 16 lanes (`Lanes16`); this fixes the width.
public enum Lanes8 {
    public typealias V = SIMD8<Float>
    /// A mask of `V` as 64-bit words.
    typealias Words = SIMD4<UInt64>
    @inline(__always) static var width: Int { 8 }
    @inline(__always) static func orWords(_ w: Words) -> UInt64 { (w[0] | w[1]) | (w[2] | w[3]) }
}

/// The type RowLanes.swift extends in this module.
typealias RowLanes = Lanes8
