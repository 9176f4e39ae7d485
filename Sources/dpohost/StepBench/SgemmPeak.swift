import Autograd
import Dispatch
import TensorCore

/// The machine's float32 matrix-multiply ceiling, measured in the same run as the steps: the best
/// GFLOP/s of square `cblas_sgemm` products (each size repeated for about `seconds`).
struct SgemmPeak {
    struct Measurement { let n: Int; let gflops: Double }

    let sizes: [Int]
    let seconds: Double

    func measure(pool: WorkerPool) -> [Measurement] {
        var rng = SplitMix64(seed: 7)
        return sizes.map { n in
            let a = Tensor.randomNormal([n, n], using: &rng), b = Tensor.randomNormal([n, n], using: &rng)
            let c = Tensor(zeros: [n, n])
            let product = {
                Gemm.sgemm(transA: false, transB: false, m: n, n: n, k: n, a: a.pointer, lda: n,
                           b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            }
            product()   // thread start-up and page faults
            var best = Double.infinity, spent = 0.0, reps = 0
            while reps < 3 || spent < seconds {
                let start = DispatchTime.now().uptimeNanoseconds
                product()
                let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                best = min(best, s); spent += s; reps += 1
            }
            return Measurement(n: n, gflops: 2 * Double(n * n * n) / best / 1e9)
        }
    }
}
