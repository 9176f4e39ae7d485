import Autograd
import Dispatch
import Foundation
import TensorCore

/// The machine's real matrix-product ceiling for a step, measured in the same run as the steps:
/// every library that loads, on the products of the step's shapes (each linear's forward and both
/// backward products, the head over the vocabulary), split over dpohost's threads as `Gemm` runs
/// them. The best library's GFLOP/s over those products is what `%peak` divides by.
struct ProductCeiling {
    typealias Product = GemmProductLog.Shape
    struct Measurement { let library: GemmLibrary; let gflops: Double }

    let seconds: Double

    /// The products of one preference step of `shape` over `rows` rows (the policy's 2·B rows).
    static func products(_ shape: BenchModelShape, rows: Int) -> [Product] {
        let h = shape.size.hidden
        let ffn = shape.arch == .llama ? shape.size.llamaIntermediate : 4 * h
        let kvWidth = shape.arch == .llama ? 2 * shape.size.llamaKeyValueHeads * (h / shape.size.heads) : 2 * h
        let linears = [(h, h + kvWidth), (h, h), (h, ffn), (ffn, h), (h, shape.size.vocab)]
        return linears.flatMap { (input, output) in [
            Product(transA: false, transB: true, m: rows, n: output, k: input),   // y = x Wᵀ
            Product(transA: false, transB: false, m: rows, n: input, k: output),  // dx = dy W
            Product(transA: true, transB: false, m: output, n: input, k: rows),   // dW = dyᵀ x
        ] }
    }

    /// GFLOP/s of each library that loads over `products` (the sum of each product's best time).
    func measure(_ products: [Product], rounds: Int = 3) -> [Measurement] {
        let flops = products.reduce(0.0) { $0 + $1.flops }
        return fastestCalls(products, rounds: rounds).map { Measurement(library: $0.library, gflops: flops / $0.seconds.reduce(0, +) / 1e9) }
    }

    /// Each library (every one that loads, unless named), with the seconds of its fastest call of
    /// each product. The libraries take turns over `rounds` rounds and each product keeps its best
    /// time, so a passing disturbance of a shared machine lowers neither library's figure. Caches
    /// are warm (the same operands call after call) unless `coldCaches`: then a buffer larger than
    /// the last-level cache is written before each timed call, as a step's other work does between
    /// two uses of one weight.
    func fastestCalls(_ products: [Product], rounds: Int = 3, libraries chosen: [GemmLibrary]? = nil,
                      coldCaches: Bool = false) -> [(library: GemmLibrary, seconds: [Double])] {
        let libraries = chosen ?? GemmBackendKind.allCases.compactMap { try? Gemm.library($0) }
        var rng = SplitMix64(seed: 7)
        let operands = products.map { p -> (Tensor, Tensor, Tensor) in
            let n = p.operandCounts
            return (Tensor.randomNormal([n.a], using: &rng), Tensor.randomNormal([n.b], using: &rng), Tensor(zeros: [n.c]))
        }
        let eviction = coldCaches ? Tensor(zeros: [Self.evictionFloats]) : nil
        var fastest = [[Double]](repeating: [Double](repeating: .infinity, count: products.count), count: libraries.count)
        for _ in 0..<rounds {
            for (l, library) in libraries.enumerated() {
                Gemm.using(library) {
                    for (i, (p, (a, b, c))) in zip(products, operands).enumerated() {
                        fastest[l][i] = min(fastest[l][i], best(before: { eviction.map(Self.overwrite) }) {
                            Gemm.sgemm(transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k,
                                       a: a.pointer, lda: p.lda, b: b.pointer, ldb: p.ldb,
                                       beta: p.accumulates ? 1 : 0, c: c.pointer, ldc: p.ldc, parallel: p.parallel)
                        })
                    }
                }
            }
        }
        return Array(zip(libraries, fastest)).map { (library: $0.0, seconds: $0.1) }
    }

    /// Twice the last-level cache that Linux reports (256 MiB where it reports none).
    static let evictionFloats: Int = {
        let text = (try? String(contentsOfFile: "/sys/devices/system/cpu/cpu0/cache/index3/size", encoding: .utf8)) ?? ""
        let kib = Int(text.trimmingCharacters(in: .whitespacesAndNewlines).dropLast()) ?? 128 << 10
        return 2 * kib * 1024 / MemoryLayout<Float>.size
    }()

    static func overwrite(_ t: Tensor) { t.pointer.update(repeating: 1, count: t.count) }

    /// Seconds of the fastest call, after one untimed call (page faults), within `seconds` per
    /// product and round; `before` runs ahead of each call, untimed.
    func best(before: () -> Void = {}, _ body: () -> Void) -> Double {
        body()
        var fastest = Double.infinity, spent = 0.0, reps = 0
        while reps < 3 || spent < seconds {
            before()
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            fastest = min(fastest, s); spent += s; reps += 1
        }
        return fastest
    }
}
