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
        return timedCalls(products, rounds: rounds).map {
            Measurement(library: $0.library, gflops: flops / $0.calls.reduce(0) { $0 + $1.fastest } / 1e9)
        }
    }

    /// One product's calls on one library: the fastest and the mean, in seconds.
    struct CallTimes {
        var fastest = Double.infinity
        var total = 0.0
        var count = 0
        var mean: Double { total / Double(max(count, 1)) }
    }

    /// Each library (every one that loads, unless named), with the times of its calls of each
    /// product. The libraries take turns over `rounds` rounds, so a passing disturbance of a shared
    /// machine lowers neither library's fastest call alone. Caches are warm (the same operands call
    /// after call) unless `coldCaches`: then a buffer twice the last-level cache is written, in
    /// one part per thread, before each timed call, as a step's other work does between two uses of one
    /// weight (another L3 of the processor may keep some).
    func timedCalls(_ products: [Product], rounds: Int = 3, libraries chosen: [GemmLibrary]? = nil,
                    coldCaches: Bool = false) -> [(library: GemmLibrary, calls: [CallTimes])] {
        timedCalls(Operands(products), rounds: rounds, libraries: chosen, coldCaches: coldCaches)
    }

    /// Random A and B and a C for each product, made once for every pass that times them.
    struct Operands {
        let products: [Product]
        let tensors: [(a: Tensor, b: Tensor, c: Tensor)]

        init(_ products: [Product]) {
            var rng = SplitMix64(seed: 7)
            self.products = products
            tensors = products.map { p in
                let n = p.operandCounts
                return (Tensor.randomNormal([n.a], using: &rng), Tensor.randomNormal([n.b], using: &rng), Tensor(zeros: [n.c]))
            }
        }
    }

    func timedCalls(_ operands: Operands, rounds: Int = 3, libraries chosen: [GemmLibrary]? = nil,
                    coldCaches: Bool = false) -> [(library: GemmLibrary, calls: [CallTimes])] {
        let libraries = chosen ?? GemmBackendKind.allCases.compactMap { try? Gemm.library($0) }
        let products = operands.products
        let eviction = coldCaches ? Tensor(zeros: [Self.evictionFloats]) : nil
        var times = [[CallTimes]](repeating: [CallTimes](repeating: CallTimes(), count: products.count), count: libraries.count)
        for _ in 0..<rounds {
            for (l, library) in libraries.enumerated() {
                Gemm.using(library) {
                    for (i, (p, (a, b, c))) in zip(products, operands.tensors).enumerated() {
                        time(into: &times[l][i], before: { eviction.map(Self.overwrite) }) {
                            Gemm.sgemm(transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k,
                                       a: a.pointer, lda: p.lda, b: b.pointer, ldb: p.ldb,
                                       beta: p.accumulates ? 1 : 0, c: c.pointer, ldc: p.ldc, parallel: p.parallel)
                        }
                    }
                }
            }
        }
        return Array(zip(libraries, times)).map { (library: $0.0, calls: $0.1) }
    }

    /// Twice the last-level cache that Linux reports (256 MiB where it reports none).
    static let evictionFloats: Int = {
        let text = (try? String(contentsOfFile: "/sys/devices/system/cpu/cpu0/cache/index3/size", encoding: .utf8)) ?? ""
        let kib = Int(text.trimmingCharacters(in: .whitespacesAndNewlines).dropLast()) ?? 128 << 10
        return 2 * kib * 1024 / MemoryLayout<Float>.size
    }()

    /// Cut into one part per thread that runs products, so that the workers write too and no
    /// core's private cache is likely to keep the operands (parts go to whichever thread asks
    /// first, so a worker that wakes late may leave its part to the caller).
    static func overwrite(_ t: Tensor) {
        let p = t.pointer
        WorkerPool(threads: Gemm.threads).parallelFor(t.count) { r in (p + r.lowerBound).update(repeating: 1, count: r.count) }
    }

    /// Calls `body` once untimed (page faults), then times calls for at least `seconds` (and
    /// three calls) into `times`; `before` runs ahead of each timed call, untimed.
    func time(into times: inout CallTimes, before: () -> Void = {}, _ body: () -> Void) {
        body()
        var spent = 0.0, reps = 0
        while reps < 3 || spent < seconds {
            before()
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            times.fastest = min(times.fastest, s)
            times.total += s
            times.count += 1
            spent += s; reps += 1
        }
    }
}
