import Dispatch

/// Every matrix product in dpohost goes through here, to the backend `GemmBackend.swift` loads
/// (OpenBLAS's `cblas_sgemm` or oneDNN's `dnnl_sgemm`).
///
/// `C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C`, row-major, with leading dimensions
/// so that strided head slices (rows of `[T, H*d]` at stride `H*d`) need no copy.
///
/// The library runs single-threaded; a large product is split here into `threads` row (or column)
/// blocks on the same `WorkerThreads` as every other kernel, so one pool of threads serves both.
/// OpenBLAS's own threads (and oneDNN's OpenMP ones) spin and yield after each call, which on a
/// small, shared machine steals the cores from the Swift kernels that follow, and OpenBLAS's lock
/// serialises the concurrent calls the attention kernel makes.
public enum Gemm {
    /// Blocks a product is split into (set by `WorkerPool`).
    nonisolated(unsafe) public static var threads = 1
    /// The loaded library's entry point (`use(_:)` sets it; the first product chooses `auto`).
    nonisolated(unsafe) static var kernel = GemmKernel.none
    /// Below this many multiply-adds a product runs on the calling thread.
    public static let minimumParallelWork = 1 << 18
    /// A product `x · Wᵀ` (a linear's forward with the weight stored outputs first, an input's
    /// gradient with it stored inputs first) whose W is at most this large is split by rows of x
    /// even when C has more columns (docs/performance.md, eighth round).
    static let rowSplitWeightBytes = 8 << 20
    /// Where products are logged (`logging(into:_:)`); nil outside a profiled benchmark step.
    nonisolated(unsafe) static var productLog: GemmProductLog?

    @inline(__always)
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int,
                             parallel: Bool = true) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C scaled by beta; make that explicit for the empty inner dimension
            // (beta 0 writes zeros, so C may start uninitialised).
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : c[i * ldc + j] * beta } }
            return
        }
        guard let log = productLog else {
            return split(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        split(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel)
        log.record(GemmProductLog.Shape(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc,
                                        accumulates: beta != 0, parallel: parallel),
                   seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// A product over `threads` blocks of rows (or columns) of C, or on this thread when small.
    @inline(__always)
    static func split(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ parallel: Bool) {
        let blocks = parallel ? min(threads, max(m, n) / 16) : 1
        if blocks <= 1 || m * n * k < minimumParallelWork {
            call(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        let p = UnsafeSendable((a: a, b: b, c: c)) // workers write disjoint blocks of C
        if m >= n || splitsRows(transA, transB, m, n, k, blocks) {
            // Rows of C and of op(A): op(A) row i is A[i, :] (no transpose) or A[:, i].
            let per = (m + blocks - 1) / blocks
            WorkerThreads.shared.run(chunks: blocks) { i in
                let lo = i * per, hi = min(m, lo + per)
                guard lo < hi else { return }
                call(transA, transB, hi - lo, n, k, alpha, p.value.a + (transA ? lo : lo * lda), lda, p.value.b, ldb,
                     beta, p.value.c + lo * ldc, ldc)
            }
        } else {
            // Columns of C and of op(B): op(B) column j is B[:, j] (no transpose) or B[j, :].
            let per = (n + blocks - 1) / blocks
            WorkerThreads.shared.run(chunks: blocks) { i in
                let lo = i * per, hi = min(n, lo + per)
                guard lo < hi else { return }
                call(transA, transB, m, hi - lo, k, alpha, p.value.a, lda, p.value.b + (transB ? lo * ldb : lo), ldb,
                     beta, p.value.c + lo, ldc)
            }
        }
    }

    /// Whether a product with fewer rows than columns still goes to the threads by rows: `x · Wᵀ`
    /// with a W that fits the last-level cache a few times over. Each thread then reads the rows
    /// of x that the op before it wrote on that core, and the whole of W (which both threads
    /// stream at once); split by columns, each thread reads all of x, half of it from the other
    /// core, and llama-base's forward products ran at 61-81 % of the library's speed inside a step
    /// against 80-97 % split by rows (the library alone is equal either way). Not for `x · W`:
    /// GPT-2's forward products of that layout ran slower split by rows (one run). A large W (the
    /// head's) still splits by columns: each thread then streams half of it.
    @inline(__always)
    static func splitsRows(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ blocks: Int) -> Bool {
        !transA && transB && n * k * MemoryLayout<Float>.size <= rowSplitWeightBytes && m >= 32 * blocks
    }

    /// Runs `body` with every product's shape and time logged into `log` (the step benchmark's
    /// `--profile-ops`); not for use while other threads start products outside `body`.
    public static func logging<T>(into log: GemmProductLog?, _ body: () throws -> T) rethrows -> T {
        let saved = productLog
        productLog = log
        defer { productLog = saved }
        return try body()
    }

    /// Runs `body` with every product on `library` (the benchmark's ceiling compares libraries);
    /// not for use while other threads run products.
    public static func using<T>(_ library: GemmLibrary, _ body: () throws -> T) rethrows -> T {
        _ = setup
        let saved = kernel
        kernel = library.entry
        defer { kernel = saved }
        return try body()
    }

    @inline(__always)
    static func call(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                     _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                     _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var entry = kernel
        if !entry.isLoaded {
            _ = setup
            entry = kernel
        }
        entry(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
}
