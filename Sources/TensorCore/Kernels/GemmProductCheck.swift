/// Checks a matrix-product library against float64 products: every transpose, leading dimensions
/// wider than the matrices, beta 0 over a C full of NaN (which must not be read) and beta 1
/// (accumulate), split over three blocks and not, and the padding between C's rows left alone.
/// `dpohost selfcheck` runs it on every library that loads; the tests too.
public struct GemmProductCheck {
    public init() {}

    /// The first wrong element, described, or nil when every product is right.
    public func run(on library: GemmLibrary) -> String? {
        let savedThreads = Gemm.threads
        defer { Gemm.threads = savedThreads }
        Gemm.threads = 3
        for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
            for (m, n, k) in [(1, 1, 1), (5, 7, 3), (96, 130, 40), (40, 300, 70)] {
                for beta: Float in [0, 1] {
                    for parallel in [false, true] {
                        if let failure = check(library, transA, transB, m, n, k, beta: beta, parallel: parallel) { return failure }
                    }
                }
            }
        }
        return nil
    }

    func check(_ library: GemmLibrary, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
               beta: Float, parallel: Bool) -> String? {
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
        let a = (0..<((transA ? k : m) * lda)).map { Float(($0 * 7919) % 13) / 13 - 0.5 }
        let b = (0..<((transB ? n : k) * ldb)).map { Float(($0 * 104_729) % 11) / 11 - 0.5 }
        var c = (0..<(m * ldc)).map { beta == 0 ? Float.nan : Float($0 % 5) }
        let start = c
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            Gemm.using(library) {
                Gemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda,
                           b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc, parallel: parallel)
            }
        } } }
        let what = "\(transA ? "T" : "N")\(transB ? "T" : "N") m \(m) n \(n) k \(k) beta \(beta)\(parallel ? " split" : "")"
        for i in 0..<m {
            for j in 0..<n {
                var exact = beta == 0 ? 0 : Double(start[i * ldc + j])
                for p in 0..<k {
                    exact += Double(a[transA ? p * lda + i : i * lda + p]) * Double(b[transB ? j * ldb + p : p * ldb + j])
                }
                let got = Double(c[i * ldc + j])
                guard abs(got - exact) <= 1e-5 * Double(k) + 1e-6 else {
                    return "\(what): C[\(i), \(j)] = \(got), expected \(exact)"
                }
            }
            for j in n..<ldc where c[i * ldc + j].bitPattern != start[i * ldc + j].bitPattern {
                return "\(what): the padding C[\(i), \(j)] after the row was written"
            }
        }
        return nil
    }
}
