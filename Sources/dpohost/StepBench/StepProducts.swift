import TensorCore

/// The matrix products of a profiled step (`GemmProductLog`) beside the same calls timed again on
/// each library (`ProductCeiling`): how close the step's products come to the best library at the
/// step's own shapes, rows and leading dimensions included.
///
/// Several comparisons, because one product's time varies from call to call even in a tight loop
/// on a shared machine (docs/performance.md): the step's mean call against the library's mean call
/// on warm caches (like with like), and against the library's fastest call (the strict ceiling);
/// then the step's fastest call of each shape against the library's fastest, warm and with the
/// last-level cache overwritten first (what cold weights cost), which leaves the machine's
/// passing slowdowns out of both sides. Times are sums over calls: products that worker threads
/// ran at the same time (the attention kernels' single-thread ones) count each, in the step and
/// when timed again.
struct StepProducts: Codable {
    struct Library: Codable {
        var name: String
        /// The step's calls, each at that library's mean and fastest warm time, ms per step.
        var meanMs: Double
        var fastestMs: Double
    }

    struct Shape: Codable {
        var label: String
        var callsPerStep: Double
        var stepMs: Double
        /// The step's calls, each at the step's fastest call of this shape.
        var stepFastestMs: Double
        /// The fastest library's times for the same calls: mean and fastest warm, fastest with the
        /// last-level cache overwritten before each call.
        var meanMs: Double
        var fastestMs: Double
        var coldMs: Double
    }

    var gflopPerStep: Double
    var stepMs: Double
    var libraries: [Library]
    /// Slowest first.
    var shapes: [Shape]

    init(_ log: GemmProductLog, steps: Int, ceiling: ProductCeiling) {
        let logged = log.entries.sorted { $0.value.seconds > $1.value.seconds }
        let perStep = 1 / Double(max(steps, 1))
        /// ms per step of the logged calls at `seconds` each.
        func perStepMs(_ seconds: [Double]) -> [Double] {
            zip(logged, seconds).map { Double($0.value.calls) * $1 * perStep * 1000 }
        }
        let operands = ProductCeiling.Operands(logged.map(\.key))
        let measured = ceiling.timedCalls(operands)
        libraries = measured.map {
            Library(name: "\($0.library.version) \($0.library.kernel)", meanMs: perStepMs($0.calls.map(\.mean)).reduce(0, +),
                    fastestMs: perStepMs($0.calls.map(\.fastest)).reduce(0, +))
        }
        let none = [Double](repeating: .nan, count: logged.count)
        // The library whose calls are fastest (the strict ceiling) gives every per-shape column
        // and the cold calls, so the fastest-against-fastest line compares one library throughout.
        let best = measured.min { perStepMs($0.calls.map(\.fastest)).reduce(0, +) < perStepMs($1.calls.map(\.fastest)).reduce(0, +) }
        let mean = best.map { perStepMs($0.calls.map(\.mean)) } ?? none
        let fastest = best.map { perStepMs($0.calls.map(\.fastest)) } ?? none
        let cold = best.flatMap { ceiling.timedCalls(operands, rounds: 1, libraries: [$0.library], coldCaches: true).first }
            .map { perStepMs($0.calls.map(\.fastest)) } ?? none
        let stepFastest = perStepMs(logged.map(\.value.fastest))
        shapes = logged.indices.map { i in
            Shape(label: logged[i].key.label, callsPerStep: Double(logged[i].value.calls) * perStep,
                  stepMs: logged[i].value.seconds * perStep * 1000, stepFastestMs: stepFastest[i],
                  meanMs: mean[i], fastestMs: fastest[i], coldMs: cold[i])
        }
        gflopPerStep = logged.reduce(0) { $0 + $1.key.flops * Double($1.value.calls) } * perStep / 1e9
        stepMs = shapes.reduce(0) { $0 + $1.stepMs }
    }

    /// The best library's mean warm time over the step's: 1 is the library's own speed at these shapes.
    var efficiency: Double { (libraries.map(\.meanMs).min() ?? .nan) / stepMs }
    /// The same against the library's fastest calls.
    var strictEfficiency: Double { (libraries.map(\.fastestMs).min() ?? .nan) / stepMs }
    var coldMs: Double { shapes.reduce(0) { $0 + $1.coldMs } }
    var stepFastestMs: Double { shapes.reduce(0) { $0 + $1.stepFastestMs } }
    /// The step's fastest calls against the fastest library's fastest calls (warm).
    var fastestAgainstFastest: Double { shapes.reduce(0) { $0 + $1.fastestMs } / stepFastestMs }

    /// Summary lines, then the `top` slowest shapes.
    func lines(top: Int = 8) -> String {
        var lines = [
            "    products in the step: \(Fmt.f(gflopPerStep, 1)) GFLOP in \(Fmt.f(stepMs, 1)) ms (\(Fmt.f(1000 * gflopPerStep / stepMs, 1)) GFLOP/s)",
            "    the same calls on warm caches, mean / fastest: "
                + libraries.map { "\($0.name) \(Fmt.f($0.meanMs, 1)) / \(Fmt.f($0.fastestMs, 1)) ms" }.joined(separator: ", "),
            "    the step's products at \(Fmt.f(100 * efficiency, 1)) % of the best library's mean call at the step's shapes, "
                + "\(Fmt.f(100 * strictEfficiency, 1)) % of its fastest; with the last-level cache overwritten before each call its fastest take "
                + "\(Fmt.f(coldMs, 1)) ms",
            "    fastest against fastest: the step's fastest call of each shape, \(Fmt.f(stepFastestMs, 1)) ms, at "
                + "\(Fmt.f(100 * fastestAgainstFastest, 1)) % of the best library's fastest on warm caches and "
                + "\(Fmt.f(100 * coldMs / stepFastestMs, 1)) % of its fastest with the cache overwritten",
            "    " + Fmt.pad("product (op(A) op(B) MxNxK)", 36) + Fmt.pad("calls", 7) + Fmt.pad("step ms", 9) + Fmt.pad("step fast", 11)
                + Fmt.pad("mean ms", 9) + Fmt.pad("fast ms", 9) + Fmt.pad("cold ms", 9) + "mean/step",
        ]
        for s in shapes.prefix(top) {
            lines.append("    " + Fmt.pad(s.label, 36) + Fmt.pad(Fmt.f(s.callsPerStep, 0), 7) + Fmt.pad(Fmt.f(s.stepMs, 2), 9)
                         + Fmt.pad(Fmt.f(s.stepFastestMs, 2), 11)
                         + Fmt.pad(Fmt.f(s.meanMs, 2), 9) + Fmt.pad(Fmt.f(s.fastestMs, 2), 9) + Fmt.pad(Fmt.f(s.coldMs, 2), 9)
                         + Fmt.f(100 * s.meanMs / s.stepMs, 0) + " %")
        }
        return lines.joined(separator: "\n")
    }
}
