import TensorCore

/// The matrix products of a profiled step (`GemmProductLog`) beside the same calls timed again on
/// each library with warm caches (`ProductCeiling`): how close the step's products come to the
/// best library at the step's own shapes, rows and leading dimensions included.
struct StepProducts: Codable {
    struct Library: Codable {
        var name: String
        /// The step's calls, each at that library's fastest warm time, per step.
        var msPerStep: Double
    }

    struct Shape: Codable {
        var label: String
        var callsPerStep: Double
        var stepMs: Double
        /// The best library's warm time for the same calls.
        var warmMs: Double
        /// The best library's time for the same calls with their operands out of every cache.
        var coldMs: Double
    }

    var gflopPerStep: Double
    var msPerStep: Double
    var libraries: [Library]
    /// Slowest first.
    var shapes: [Shape]

    init(_ log: GemmProductLog, steps: Int, ceiling: ProductCeiling) {
        let logged = log.entries.sorted { $0.value.seconds > $1.value.seconds }
        let perStep = 1 / Double(max(steps, 1))
        let measured = ceiling.fastestCalls(logged.map(\.key))
        func perStepMs(_ seconds: [Double]) -> [Double] {
            zip(logged, seconds).map { Double($0.value.calls) * $1 * perStep * 1000 }
        }
        libraries = measured.map { Library(name: "\($0.library.version) \($0.library.kernel)", msPerStep: perStepMs($0.seconds).reduce(0, +)) }
        let best = measured.min { perStepMs($0.seconds).reduce(0, +) < perStepMs($1.seconds).reduce(0, +) }
        let none = [Double](repeating: .nan, count: logged.count)
        let bestWarm = best.map { perStepMs($0.seconds) } ?? none
        let bestCold = best.flatMap { ceiling.fastestCalls(logged.map(\.key), rounds: 1, libraries: [$0.library], coldCaches: true).first }
            .map { perStepMs($0.seconds) } ?? none
        shapes = zip(logged, zip(bestWarm, bestCold)).map { entry, times in
            Shape(label: entry.key.label, callsPerStep: Double(entry.value.calls) * perStep,
                  stepMs: entry.value.seconds * perStep * 1000, warmMs: times.0, coldMs: times.1)
        }
        gflopPerStep = logged.reduce(0) { $0 + $1.key.flops * Double($1.value.calls) } * perStep / 1e9
        msPerStep = shapes.reduce(0) { $0 + $1.stepMs }
    }

    /// The best library's warm time over the step's: 1 is the library's own speed at these shapes.
    var efficiency: Double { (libraries.map(\.msPerStep).min() ?? .nan) / msPerStep }

    /// The best library's time for the step's calls with cold caches over the step's own.
    var coldEfficiency: Double { shapes.reduce(0) { $0 + $1.coldMs } / msPerStep }

    /// A summary line, then the `top` slowest shapes.
    func lines(top: Int = 8) -> String {
        var lines = ["    products in the step: \(Fmt.f(gflopPerStep, 1)) GFLOP in \(Fmt.f(msPerStep, 1)) ms "
                     + "(\(Fmt.f(1000 * gflopPerStep / msPerStep, 1)) GFLOP/s); the same calls on warm caches: "
                     + libraries.map { "\($0.name) \(Fmt.f($0.msPerStep, 1)) ms" }.joined(separator: ", ")
                     + ": \(Fmt.f(100 * efficiency, 1)) % of the best library's speed at the step's shapes",
                     "    the same calls with their operands out of every cache: \(Fmt.f(shapes.reduce(0) { $0 + $1.coldMs }, 1)) ms, "
                     + "\(Fmt.f(100 * coldEfficiency, 1)) % of the step's time"]
        lines.append("    " + Fmt.pad("product (op(A) op(B) MxNxK)", 36) + Fmt.pad("calls", 8) + Fmt.pad("step ms", 10)
                     + Fmt.pad("warm ms", 10) + Fmt.pad("cold ms", 10) + "warm/step")
        for s in shapes.prefix(top) {
            lines.append("    " + Fmt.pad(s.label, 36) + Fmt.pad(Fmt.f(s.callsPerStep, 0), 8) + Fmt.pad(Fmt.f(s.stepMs, 2), 10)
                         + Fmt.pad(Fmt.f(s.warmMs, 2), 10) + Fmt.pad(Fmt.f(s.coldMs, 2), 10) + Fmt.f(100 * s.warmMs / s.stepMs, 0) + " %")
        }
        return lines.joined(separator: "\n")
    }
}
