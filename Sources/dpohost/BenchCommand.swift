import ArgumentParser
import Autograd
import Foundation
import TensorCore

/// `dpohost bench kernels`: GFLOP/s of the linear op on transformer-shaped problems, next to raw
/// products of the matrix-product library on the same shapes, so the framework's overhead over
/// the library is visible.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks.", subcommands: [KernelBench.self, StepBench.self])
}

struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Linear forward/backward GFLOP/s vs the library's raw products on transformer shapes.")

    @Option(help: "Worker threads, which also run the matrix products (default: all cores).") var threads: Int?
    @OptionGroup var gemm: GemmBackendOptions
    @Option(help: "Timed repetitions per shape (the best is reported).") var repeats = 5
    @Flag(help: "Time only the non-BLAS kernels (attention, activations, norms, label log-probs).")
    var rowKernelsOnly = false
    @Flag(help: "Time only attention by length (both methods, the lengths of --attention-lengths).")
    var attentionOnly = false
    @Option(help: "Sequence lengths of the attention-by-length table, comma-separated (default: 512,2048,4096,8192).",
            transform: { text in
                try text.split(separator: ",").map {
                    guard let n = Int($0.trimmingCharacters(in: .whitespaces)), n > 0 else {
                        throw ValidationError("--attention-lengths: '\($0)' is not a positive length")
                    }
                    return n
                }
            })
    var attentionLengths: [Int] = [512, 2048, 4096, 8192]

    struct Shape { let name: String; let tokens, input, output: Int }

    func run() throws {
        _ = try CLIErrors.run { try gemm.apply(printTo: .standardOutput) }
        let pool = WorkerPool(threads: threads)
        if attentionOnly { return runAttentionByLength(pool: pool) }
        if rowKernelsOnly { return runRowKernels(pool: pool) }
        let shapes = [
            Shape(name: "attn qkv  (gpt2-small)", tokens: 1024, input: 768, output: 2304),
            Shape(name: "mlp up    (gpt2-small)", tokens: 1024, input: 768, output: 3072),
            Shape(name: "mlp down  (gpt2-small)", tokens: 1024, input: 3072, output: 768),
            Shape(name: "lm head   (pythia vocab)", tokens: 256, input: 512, output: 50304),
            // The tiny shapes (hidden 64, vocab 1000) of the step benchmark: inner dimensions this
            // small are where BLAS's packing and C-scaling passes weigh most.
            Shape(name: "attn qkv  (tiny)", tokens: 1024, input: 64, output: 192),
            Shape(name: "attn out  (tiny)", tokens: 1024, input: 64, output: 64),
            Shape(name: "mlp up    (tiny)", tokens: 1024, input: 64, output: 256),
            Shape(name: "mlp down  (tiny)", tokens: 1024, input: 256, output: 64),
            Shape(name: "lm head   (tiny)", tokens: 512, input: 64, output: 1000),
        ]
        print("threads: \(pool.threads) worker, products split in \(pool.blasThreads) (the library single-threaded)")
        print("GFLOP/s (best of \(repeats)); dX/dW: the backward products alone; linear f+b counts 3 GEMMs (forward, input and weight gradients)")
        print(pad("shape", 26) + pad("M×K×N", 18) + pad("sgemm", 10) + pad("dX sgemm", 10) + pad("dW sgemm", 10)
              + pad("linear fwd", 12) + pad("linear f+b", 12))
        var rng = SplitMix64(seed: 1)
        for s in shapes {
            let x = Tensor.randomNormal([s.tokens, s.input], scale: 0.1, using: &rng)
            let w = Tensor.randomNormal([s.output, s.input], scale: 0.1, using: &rng)
            let c = Tensor(zeros: [s.tokens, s.output])
            let flops = 2.0 * Double(s.tokens * s.input * s.output)
            let raw = best {
                Gemm.sgemm(transA: false, transB: true, m: s.tokens, n: s.output, k: s.input,
                           a: x.pointer, lda: s.input, b: w.pointer, ldb: s.input, c: c.pointer, ldc: s.output)
            }
            let dy = Tensor.randomNormal([s.tokens, s.output], scale: 0.1, using: &rng)
            let dx = Tensor(zeros: [s.tokens, s.input]), dw = Tensor(zeros: [s.output, s.input])
            let rawDX = best {
                Gemm.sgemm(transA: false, transB: false, m: s.tokens, n: s.input, k: s.output,
                           a: dy.pointer, lda: s.output, b: w.pointer, ldb: s.input, beta: 1, c: dx.pointer, ldc: s.input)
            }
            let rawDW = best {
                Gemm.sgemm(transA: true, transB: false, m: s.output, n: s.input, k: s.tokens,
                           a: dy.pointer, lda: s.output, b: x.pointer, ldb: s.input, beta: 1, c: dw.pointer, ldc: s.input)
            }
            let xv = Variable(x, requiresGrad: true), wv = Variable(w, requiresGrad: true)
            let frozen = Tape(pool: pool, recording: false)
            let fwd = try bestThrowing { _ = try frozen.linear(xv, weight: wv) }
            let tape = Tape(pool: pool)
            let both = try bestThrowing {
                let y = try tape.linear(xv, weight: wv)
                try tape.backward(tape.sum(y))
            }
            print(pad(s.name, 26) + pad("\(s.tokens)×\(s.input)×\(s.output)", 18)
                  + pad(gf(flops, raw), 10) + pad(gf(flops, rawDX), 10) + pad(gf(flops, rawDW), 10)
                  + pad(gf(flops, fwd), 12) + pad(gf(3 * flops, both), 12))
        }
        runRowKernels(pool: pool)
        runAttentionByLength(pool: pool)
    }

    func best(_ body: () -> Void) -> Double {
        body()
        return (0..<repeats).map { _ in time(body) }.min()!
    }

    func bestThrowing(_ body: () throws -> Void) throws -> Double {
        try body()
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.min()!
    }

    func time(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    func gf(_ flops: Double, _ seconds: Double) -> String { String(format: "%.1f", flops / seconds / 1e9) }
    func pad(_ s: String, _ n: Int) -> String { Fmt.pad(s, n) }
}
