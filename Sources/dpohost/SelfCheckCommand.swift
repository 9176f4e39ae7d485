import ArgumentParser
import Autograd
import Foundation
import TensorCore

/// `dpohost selfcheck`: checks every differentiable op of the core against finite differences
/// on this machine (the matrix-product library and kernels in use), and every matrix-product
/// library that loads against a float64 product.
struct SelfCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selfcheck",
        abstract: "Check every core op's gradient against finite differences on this machine.")

    @Option(help: "Random seed for the inputs.") var seed: UInt64 = 7
    @OptionGroup var gemm: GemmBackendOptions

    func run() throws {
        try CLIErrors.run { try check() }
    }

    func check() throws {
        try gemm.apply(printTo: .standardOutput)
        let checks: [(String, [[Int]], (Tape, [Variable]) throws -> Variable)] = [
            ("linear", [[3, 4], [5, 4], [5]], { t, v in try t.linear(v[0], weight: v[1], bias: v[2]) }),
            ("matmul (batched, transposed)", [[2, 4, 3], [2, 5, 4]], { t, v in try t.matmul(v[0], v[1], transposeA: true, transposeB: true) }),
            ("broadcast mul", [[2, 3, 4], [4]], { t, v in try t.mul(v[0], v[1]) }),
            ("layer norm", [[3, 8], [8], [8]], { t, v in try t.layerNorm(v[0], weight: v[1], bias: v[2], eps: 1e-5) }),
            ("rms norm", [[3, 8], [8]], { t, v in try t.rmsNorm(v[0], weight: v[1], eps: 1e-6) }),
            ("gelu (erf)", [[4, 5]], { t, v in try t.gelu(v[0], approximation: .erf) }),
            ("gelu (tanh)", [[4, 5]], { t, v in try t.gelu(v[0], approximation: .tanh) }),
            ("silu", [[4, 5]], { t, v in try t.silu(v[0]) }),
            ("log-softmax", [[3, 9]], { t, v in try t.logSoftmax(v[0]) }),
            ("attention (GQA, masked)", [[2, 4, 4, 3], [2, 4, 2, 3], [2, 4, 2, 3]], { t, v in
                try t.attention(query: v[0], key: v[1], value: v[2], keyMask: IndexTensor(shape: [2, 4], values: [1, 1, 1, 1, 1, 1, 0, 0]))
            }),
            ("rotary (partial)", [[2, 3, 2, 8]], { t, v in
                try t.rotary(v[0], positions: IndexTensor(shape: [3], values: [0, 1, 2]), rotaryDims: 4,
                             inverseFrequencies: RotaryKernel.inverseFrequencies(rotaryDims: 4, base: 10000))
            }),
            ("label log-probs", [[2, 4, 7]], { t, v in
                try t.labelLogProbs(logits: v[0], labels: IndexTensor(shape: [2, 4], values: [-100, 1, 2, 3, -100, 4, -100, -100]))
            }),
        ]
        var rng = SplitMix64(seed: seed)
        var failed = 0
        for (name, shapes, f) in checks {
            let inputs = shapes.map { Tensor.randomNormal($0, using: &rng) }
            if let failure = try GradientCheck().run(inputs: inputs, seed: seed, f) {
                print("FAIL  \(name): \(failure)")
                failed += 1
            } else {
                print("ok    \(name)")
            }
        }
        var total = checks.count
        for kind in GemmBackendKind.allCases {
            guard let library = try? Gemm.library(kind) else { print("skip  matrix products on \(kind.displayName): its library does not load"); continue }
            total += 1
            if let failure = GemmProductCheck().run(on: library) {
                print("FAIL  matrix products on \(library.summary): \(failure)")
                failed += 1
            } else {
                print("ok    matrix products on \(library.summary)")
            }
        }
        let pool = WorkerPool()
        print("threads: \(pool.threads) worker, products split in \(pool.blasThreads) (the library single-threaded)")
        if failed > 0 { throw ValidationError("\(failed) of \(total) checks failed") }
        print("\(total) passed, 0 failed")
    }
}
