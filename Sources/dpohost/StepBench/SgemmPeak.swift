import Autograd
import CBLAS
import Dispatch
import TensorCore

/// The machine's float32 matrix-multiply ceiling, measured in the same run as the steps: the best
/// GFLOP/s of square products, both as dpohost splits them (`Gemm`, single-threaded OpenBLAS
/// per block) and with OpenBLAS's own threads, each size repeated for about `seconds`.
struct SgemmPeak {
    struct Measurement { let n: Int; let split: Double; let openblasThreads: Double }

    let sizes: [Int]
    let seconds: Double

    func measure(pool: WorkerPool) -> [Measurement] {
        var rng = SplitMix64(seed: 7)
        return sizes.map { n in
            let a = Tensor.randomNormal([n, n], using: &rng), b = Tensor.randomNormal([n, n], using: &rng)
            let c = Tensor(zeros: [n, n])
            let product = { (parallel: Bool) in
                Gemm.sgemm(transA: false, transB: false, m: n, n: n, k: n, a: a.pointer, lda: n,
                           b: b.pointer, ldb: n, c: c.pointer, ldc: n, parallel: parallel)
            }
            let split = best(n) { product(true) }
            openblas_set_num_threads(Int32(pool.blasThreads))
            let native = best(n) { product(false) }
            openblas_set_num_threads(1)
            return Measurement(n: n, split: split, openblasThreads: native)
        }
    }

    /// GFLOP/s of the fastest call, after one untimed call (thread start-up, page faults).
    func best(_ n: Int, _ body: () -> Void) -> Double {
        body()
        var fastest = Double.infinity, spent = 0.0, reps = 0
        while reps < 3 || spent < seconds {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            fastest = min(fastest, s); spent += s; reps += 1
        }
        return 2 * Double(n * n * n) / fastest / 1e9
    }
}
