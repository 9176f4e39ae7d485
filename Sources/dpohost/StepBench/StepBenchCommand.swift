import ArgumentParser
import Foundation
import Model
import TensorCore
import Training

/// One configuration of the grid.
struct BenchCaseSpec {
    let arch: BenchArch
    let size: BenchSize
    let loss: BenchLoss
    let pairs, sequence, steps, warmup: Int
}

/// `dpohost bench step`: SFT / DPO / TDPO training steps of gpt2, pythia and llama at the PyTorch
/// benchmark's shapes, from random weights, each configuration in a fresh child process; with
/// `--vs-torch`, the PyTorch script on the same configurations in the same run.
struct StepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Time SFT/DPO/TDPO training steps (random weights) against the sgemm peak and, optionally, PyTorch.",
        discussion: """
        Shapes are those of ../shared/bench/torch_dpo_step.py: tiny (2 layers, hidden 64, vocab 1000),
        small (6/256/8192), base (12/768/50304). GFLOP/s use its formula: 16·N·B·T per preference step
        (policy forward+backward and reference forward over 2B rows of T), 6·N·B·T for SFT, where N is
        the non-embedding parameters plus vocab×hidden. '%peak' divides by the machine's ceiling for
        that shape, measured at the start of the same run: the best library's GFLOP/s over the
        step's own products (every linear's forward and both backward products, the head), split
        over the threads as dpohost runs them. The processor, the backend and its kernel head the table.
        """)

    @Option(help: "Architectures, comma-separated (gpt2, pythia, llama).") var arch = "gpt2,pythia,llama"
    @Option(help: "Sizes, comma-separated (tiny, small, base, 2.8b).") var size = "tiny,small"
    @Option(help: "Losses, comma-separated (sft, dpo, tdpo).") var loss = "sft,dpo,tdpo"
    @Option(help: "Preference pairs per step (default 4; 2 at base size, as the PyTorch grid).") var batch: Int?
    @Option(help: "Tokens per sequence, comma-separated for several lengths (e.g. 512,2048,4096,8192); the first half is the prompt.")
    var seq = "128"
    @Option(help: "Timed steps after the warm-up.") var steps = 5
    @Option(help: "Untimed warm-up steps.") var warmup = 1
    @Option(help: "Worker threads, which also run the matrix products (default: all cores).") var threads: Int?
    @OptionGroup var gemm: GemmBackendOptions
    @Option(help: "Seconds spent on each product in each of three rounds when measuring the ceiling (and, with --profile-ops, the step's own products; their cold timing is one round on the best library).") var sgemmSeconds = 0.1
    @Flag(help: "Also print where each step's time goes (policy forward, reference forward, loss, backward, clip, optimizer).")
    var phases = false
    @Flag(inversion: .prefixedNo,
          help: "For DPO, also time the step with cached reference log-probs (precompute_ref_log_probs) and print its ratio to the live-reference step.")
    var cachedReference = true
    @Flag(help: "Run ../shared/bench/torch_dpo_step.py on the same configurations, in float32 and under bfloat16 autocast, and print the ratios.")
    var vsTorch = false
    @Option(help: "The PyTorch benchmark script (default: shared/bench/torch_dpo_step.py in an ancestor directory).")
    var torchScript: String?
    @Option(help: "Python interpreter for --vs-torch (default: $DPOHOST_PYTHON or python3).") var python: String?
    @Flag(help: "Print each configuration's full result as a JSON line as well.") var json = false
    @Flag(help: "Checkpoint the policy's blocks (activation_checkpointing=true): compare time and peak memory.")
    var activationCheckpointing = false
    @Flag(help: "Project every position to the vocabulary, as PyTorch's benchmark does, instead of only those whose label counts (the trainer's default when no loss reads whole logits).")
    var allLogitRows = false
    @Flag(inversion: .prefixedNo,
          help: "Run each pair's prompt once for chosen and rejected (share_prompt, the trainer's default); --no-shared-prompt runs every row whole, as PyTorch's benchmark does.")
    var sharedPrompt = true
    @Flag(inversion: .prefixedNo,
          help: "Run shared prompts and their rows as one sequence where the model plugin allows (attends_through_host; every built-in model); --no-packed-prompt runs the prompts as a forward of their own, as for a plugin without it. No effect when prompts are not shared (--no-shared-prompt, --activation-checkpointing).")
    var packedPrompt = true
    @Flag(help: "Time every op of the timed steps (forward from the previous op's end, and backward) and print them, slowest first; then every matrix product of those steps against the same calls timed again on each library with warm caches, and on the best one with the last-level cache overwritten (mean against mean, and the step's fastest call of each shape against the library's fastest). Profiling adds a little time per op.")
    var profileOps = false
    @Option(help: "Also time each configuration with LoRA adapters of this rank on every linear (alpha 2r), the base frozen and the reference its adapters-off view, and print time and peak memory against the full step.")
    var lora: Int?
    @Flag(help: "With --lora: time the LoRA step alone (a model whose full step does not fit in memory).")
    var loraOnly = false
    @Option(name: .customLong("lora-base-dtype"),
            help: "With --lora: the frozen base's types, comma-separated (float32, bfloat16, float16: model.reference_dtype under LoRA); one LoRA run each. (default: float32)")
    var loraBaseDtypes = "float32"
    var loraBases: [WeightPrecision] {
        get throws { try loraBaseDtypes.split(separator: ",").map { try WeightPrecision(configValue: String($0).trimmingCharacters(in: .whitespaces)) } }
    }
    /// Child mode: this run is the LoRA one.
    @Flag(help: .hidden) var loraChild = false
    @Flag(help: .hidden) var single = false

    /// Checked inside `run`, so that a bad value is one `error:` line like every other command's.
    func checkOptions() throws {
        if loraOnly && lora == nil { throw ValidationError("--lora-only needs --lora R") }
        do { _ = try loraBases } catch { throw ValidationError("--lora-base-dtype: \(error)") }
        for (option, value, least) in [("--steps", steps, 1), ("--warmup", warmup, 0), ("--batch", batch ?? 1, 1)] where value < least {
            throw ValidationError("\(option): '\(value)' is below \(least)")
        }
        _ = try cases()
    }

    func run() throws {
        try CLIErrors.run {
            try checkOptions()
            if single {
                try gemm.apply(printTo: .none)
                return try runSingle()
            }
            try gemm.apply(printTo: .standardOutput)
            try runGrid()
        }
    }

    func cases() throws -> [BenchCaseSpec] {
        func parse<T: RawRepresentable & CaseIterable>(_ text: String, _ option: String, _ what: String) throws -> [T] where T.RawValue == String {
            try text.split(separator: ",").map { word in
                guard let v = T(rawValue: word.trimmingCharacters(in: .whitespaces)) else {
                    let choices = T.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ValidationError("\(option): '\(word)' is not \(what); choose from \(choices)")
                }
                return v
            }
        }
        let archs: [BenchArch] = try parse(arch, "--arch", "an architecture")
        let sizes: [BenchSize] = try parse(size, "--size", "a size")
        let losses: [BenchLoss] = try parse(loss, "--loss", "a loss")
        let lengths: [Int] = try seq.split(separator: ",").map { word in
            guard let n = Int(word.trimmingCharacters(in: .whitespaces)), n >= 4 else {
                throw ValidationError("--seq: '\(word)' is not a length of at least 4 tokens")
            }
            return n
        }
        return sizes.flatMap { s in archs.flatMap { a in losses.flatMap { l in lengths.map { t in
            BenchCaseSpec(arch: a, size: s, loss: l, pairs: batch ?? (s == .base ? 2 : 4),
                          sequence: t, steps: steps, warmup: warmup)
        } } } }
    }

    /// Child mode: exactly one configuration, in this process, as one JSON line.
    func runSingle() throws {
        let specs = try cases()
        guard specs.count == 1, let c = specs.first else { throw BenchError("--single takes exactly one configuration") }
        let result = try StepBenchCase(shape: BenchModelShape(arch: c.arch, size: c.size, sequence: c.sequence), loss: c.loss,
                                       pairs: c.pairs, steps: c.steps, warmup: c.warmup, threads: threads, seed: 0,
                                       phases: phases, cachedReference: cachedReference,
                                       activationCheckpointing: activationCheckpointing, allLogitRows: allLogitRows,
                                       sharedPrompt: sharedPrompt, packedPrompt: packedPrompt, profileOps: profileOps, productSeconds: sgemmSeconds,
                                       lora: loraChild ? lora : nil, loraBase: try loraBases.first ?? .float32).run()
        let data = try JSONEncoder().encode(result)
        print(String(decoding: data, as: UTF8.self))
    }

    func runGrid() throws {
        let pool = WorkerPool(threads: threads)
        print("threads: \(pool.threads) (products split in \(pool.blasThreads) blocks)")
        if let fma = Gemm.setup.processor.theoreticalPeakGFLOPS(cores: pool.threads) {
            print("theoretical float32 peak: \(Fmt.f(fma, 1)) GFLOP/s (\(pool.threads) cores, \(Gemm.setup.processor.vectorUnit), 2 FMA units per core assumed)")
        }
        // One ceiling per set of products (gpt2 and pythia share theirs).
        var ceilings: [[ProductCeiling.Product]: Double] = [:]
        for c in try cases() where ceilings[products(c)] == nil {
            let shape = BenchModelShape(arch: c.arch, size: c.size, sequence: c.sequence)
            let measured = ProductCeiling(seconds: sgemmSeconds).measure(products(c))
            let best = measured.map(\.gflops).max() ?? .nan
            ceilings[products(c)] = best
            let rows = 2 * c.pairs * c.sequence
            print("ceiling \(shape.name) (\(rows) rows): \(Fmt.f(best, 1)) GFLOP/s, best of "
                  + measured.map { "\($0.library.version) \($0.library.kernel) \(Fmt.f($0.gflops, 1))" }.joined(separator: ", "))
        }
        let torch = vsTorch ? try torchAnchor() : nil
        let table = StepBenchTable(withTorch: torch != nil, withPhases: phases)
        print(table.header)
        for c in try cases() {
            let ours: StepBenchResult
            do {
                if loraOnly { throw BenchError("not run (--lora-only)") }
                ours = try runChild(c)
            } catch {
                // A full step that does not fit (killed for memory) still lets LoRA show that it does.
                guard let lora else { throw error }
                print("  \(c.arch.rawValue)-\(c.size.rawValue) \(c.loss.rawValue): full step failed: \(error)")
                for base in try loraBases {
                    let adapted = try runChild(c, lora: lora, base: base)
                    print("  LoRA r=\(lora), \(base.rawValue) base: median \(Fmt.f(adapted.median, 3)) s, peak \(Fmt.f(adapted.peakRSSMiB, 0)) MiB, first loss \(Fmt.f(adapted.firstLoss, 4))")
                }
                continue
            }
            var theirs: TorchAnchor.Result?, theirsBF16: TorchAnchor.Result?
            if let torch {
                do { theirs = try torch.run(c, threads: pool.threads) } catch { print("  PyTorch: \(error)") }
                do { theirsBF16 = try torch.run(c, threads: pool.threads, autocast: "bf16") } catch { print("  PyTorch bf16 autocast: \(error)") }
            }
            print(table.row(ours, peakGflops: ceilings[products(c)] ?? .nan, torch: theirs, torchBF16: theirsBF16))
            if phases, let p = ours.phases { print(table.phaseLine(p, total: ours.stepSeconds.reduce(0, +) / Double(ours.steps))) }
            if let line = table.cachedLine(ours) { print(line) }
            if let ops = ours.ops { print(table.opLines(ops, total: ours.stepSeconds.reduce(0, +) / Double(ours.steps))) }
            if let products = ours.products { print(products.lines()) }
            if phases, let p = ours.cachedPhases, let s = ours.cachedStepSeconds {
                print(table.phaseLine(p, total: s.reduce(0, +) / Double(max(s.count, 1)), label: "cached phases"))
            }
            if json { print(String(decoding: try JSONEncoder().encode(ours), as: UTF8.self)) }
            if let lora {
                var firstLoRA: StepBenchResult?
                for base in try loraBases {
                    let adapted = try runChild(c, lora: lora, base: base)
                    firstLoRA = firstLoRA ?? adapted
                    print("  LoRA r=\(lora), \(base.rawValue) base: median \(Fmt.f(adapted.median, 3)) s (\(Fmt.f(adapted.median / ours.median, 2))x full), peak "
                          + "\(Fmt.f(adapted.peakRSSMiB, 0)) MiB (\(Fmt.f(adapted.peakRSSMiB / ours.peakRSSMiB, 2))x full)"
                          + ((adapted.otherLoad ?? 0) > 0.1 ? " (disturbed: other load \(Fmt.f(adapted.otherLoad!, 2)))" : ""))
                    if json { print(String(decoding: try JSONEncoder().encode(adapted), as: UTF8.self)) }
                }
                if let torch, let theirs, let firstLoRA {
                    do {
                        let peft = try torch.run(c, threads: pool.threads, lora: lora)
                        print("  PyTorch + peft r=\(lora): median \(Fmt.f(peft.median, 3)) s (\(Fmt.f(peft.median / theirs.median, 2))x its full step), peak "
                              + "\(Fmt.f(peft.peakRSSMiB, 0)) MiB (\(Fmt.f(peft.peakRSSMiB / theirs.peakRSSMiB, 2))x its full); dpohost's LoRA step \(Fmt.f(peft.median / firstLoRA.median, 2))x faster, \(Fmt.f(firstLoRA.peakRSSMiB / peft.peakRSSMiB, 2))x its memory")
                    } catch { print("  PyTorch + peft: \(error)") }
                }
            }
        }
    }

    /// The products of a configuration's step (over its policy's 2·B·T rows); configurations with
    /// the same products share a ceiling.
    func products(_ c: BenchCaseSpec) -> [ProductCeiling.Product] {
        ProductCeiling.products(BenchModelShape(arch: c.arch, size: c.size, sequence: c.sequence), rows: 2 * c.pairs * c.sequence)
    }

    /// `nil` with the reason printed when PyTorch is not importable (the comparison is skipped).
    func torchAnchor() throws -> TorchAnchor? {
        let interpreter = python ?? ProcessInfo.processInfo.environment["DPOHOST_PYTHON"] ?? "python3"
        guard let script = torchScript ?? TorchAnchor.locateScript() else {
            print("PyTorch comparison skipped: torch_dpo_step.py not found (pass --torch-script PATH)")
            return nil
        }
        let anchor = TorchAnchor(python: interpreter, script: script)
        if let reason = anchor.unavailableReason() {
            print("PyTorch comparison skipped: \(reason)")
            return nil
        }
        print("PyTorch: \(interpreter) \(script)")
        return anchor
    }

    /// Runs one configuration in a fresh process of this binary, so peak memory is its own.
    func runChild(_ c: BenchCaseSpec, lora: Int? = nil, base: WeightPrecision = .float32) throws -> StepBenchResult {
        var args = ["bench", "step", "--single", "--arch", c.arch.rawValue, "--size", c.size.rawValue,
                    "--loss", c.loss.rawValue, "--batch", "\(c.pairs)", "--seq", "\(c.sequence)",
                    "--steps", "\(c.steps)", "--warmup", "\(c.warmup)"]
        if let threads { args += ["--threads", "\(threads)"] }
        if phases { args.append("--phases") }
        if !cachedReference { args.append("--no-cached-reference") }
        if activationCheckpointing { args.append("--activation-checkpointing") }
        if allLogitRows { args.append("--all-logit-rows") }
        if !sharedPrompt { args.append("--no-shared-prompt") }
        if !packedPrompt { args.append("--no-packed-prompt") }
        if profileOps { args += ["--profile-ops", "--sgemm-seconds", "\(sgemmSeconds)"] }
        if let lora { args += ["--lora", "\(lora)", "--lora-child", "--lora-base-dtype", base.rawValue] }
        args += ["--gemm-backend", Gemm.setup.library.kind.rawValue]
        let (status, out, err) = TorchAnchor.execute(Self.executablePath, args, environment: [:])
        guard status == 0, let line = out.split(separator: "\n").last,
              let result = try? JSONDecoder().decode(StepBenchResult.self, from: Data(line.utf8)) else {
            throw BenchError("\(c.arch.rawValue)-\(c.size.rawValue) \(c.loss.rawValue) failed (status \(status)): "
                             + err.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return result
    }

    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
