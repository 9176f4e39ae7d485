import Foundation
import TensorCore

/// Compares the tape's gradients with central finite differences.
///
/// The function under test is reduced to a scalar with a fixed random projection,
/// `L = sum(f(inputs) * R)`, so every output element contributes. Used by the test suite, by
/// `dpohost selfcheck`, and by plugin authors checking a new op or loss.
public struct GradientCheck {
    public struct Failure: Error, CustomStringConvertible {
        public let input: Int, element: Int
        public let analytic: Double, numeric: Double
        public var description: String {
            "input \(input) element \(element): analytic \(analytic) vs finite difference \(numeric)"
        }
    }

    public var step: Float = 1e-2
    public var relativeTolerance: Double = 2e-2
    public var absoluteTolerance: Double = 2e-3
    /// At most this many elements per input are perturbed (chosen evenly), to bound the cost.
    public var maxElementsPerInput = 48

    public init(step: Float = 1e-2, relativeTolerance: Double = 2e-2, absoluteTolerance: Double = 2e-3) {
        self.step = step
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
    }

    /// Returns the largest mismatch found (nil if all agree), throwing only for op errors.
    /// `inputs` are copied; the ones at `differentiable` indices get gradients.
    public func run(inputs: [Tensor], differentiable: Set<Int>? = nil, seed: UInt64 = 1,
                    pool: WorkerPool = .serial,
                    _ f: (Tape, [Variable]) throws -> Variable) throws -> Failure? {
        let wrt = differentiable ?? Set(inputs.indices)
        let values = inputs.map { $0.copy() }
        var rng = SplitMix64(seed: seed)

        // Analytic gradients.
        let tape = Tape(pool: pool)
        let vars = values.enumerated().map { Variable($1, requiresGrad: wrt.contains($0)) }
        let out = try f(tape, vars)
        let projection = Tensor(zeros: out.shape)
        for i in 0..<projection.count { projection.pointer[i] = Float(rng.nextUniform() * 2 - 1) }
        let loss = try tape.sum(tape.mul(out, Variable(projection)))
        try tape.backward(loss)

        // Numeric gradients on a non-recording tape.
        let probe = Tape(pool: pool, recording: false)
        func objective() throws -> Double {
            let o = try f(probe, values.map { Variable($0) }).value.contiguous()
            var s = 0.0
            for i in 0..<o.count { s += Double(o.pointer[i]) * Double(projection.pointer[i]) }
            return s
        }
        var worst: (excess: Double, failure: Failure)?
        for index in wrt.sorted() {
            let x = values[index]
            let grad = vars[index].grad?.contiguous()
            let n = x.count
            let picks = n <= maxElementsPerInput ? Array(0..<n) : (0..<maxElementsPerInput).map { $0 * n / maxElementsPerInput }
            for e in picks {
                let original = x.pointer[e]
                x.pointer[e] = original + step
                let up = try objective()
                x.pointer[e] = original - step
                let down = try objective()
                x.pointer[e] = original
                let numeric = (up - down) / (2 * Double(step))
                let analytic = Double(grad?.pointer[e] ?? 0)
                let excess = abs(analytic - numeric) - (absoluteTolerance + relativeTolerance * abs(numeric))
                if excess > 0, excess > (worst?.excess ?? 0) {
                    worst = (excess, Failure(input: index, element: e, analytic: analytic, numeric: numeric))
                }
            }
        }
        return worst?.failure
    }
}

/// A small deterministic generator for test data and self-checks (no global RNG state).
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Standard normal (Box-Muller).
    public mutating func nextNormal() -> Float {
        let u = max(nextUniform(), 1e-300), v = nextUniform()
        return Float((-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v))
    }
}

extension Tensor {
    /// A tensor of standard-normal values times `scale`, from `rng`.
    public static func randomNormal(_ shape: [Int], scale: Float = 1, using rng: inout SplitMix64) -> Tensor {
        let t = Tensor(zeros: shape)
        for i in 0..<t.count { t.pointer[i] = rng.nextNormal() * scale }
        return t
    }
}
