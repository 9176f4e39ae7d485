import Autograd
import Configuration
import Foundation
import Model
import Objective
import PluginHost
import TensorCore
import Training

/// What one configuration measured; the child process prints it as one JSON line.
struct StepBenchResult: Codable {
    var model, arch, size, loss: String
    var batch, seq, steps, warmup, threads: Int
    var flopParameters: Int
    var tokensPerStep: Int
    var flopsPerStep: Double
    var stepSeconds: [Double]
    var peakRSSMiB: Double
    var firstLoss: Double
    /// Share of the machine's CPU that other processes used during the timed steps.
    var otherLoad: Double?
    /// Mean seconds per timed step spent in each phase (with `--phases`).
    var phases: [String: Double]?
    /// DPO only: the same step with cached reference log-probs (`precompute_ref_log_probs`, the
    /// reference forward skipped), each timed step right after a live-reference one.
    var cachedStepSeconds: [Double]?
    var cachedPhases: [String: Double]?
    /// Per op, milliseconds per timed step (with `--profile-ops`), slowest first.
    var ops: [OpTime]?
    /// The live steps' matrix products against the same calls on warm caches (with `--profile-ops`).
    var products: StepProducts?

    struct OpTime: Codable {
        var op: String
        var callsPerStep: Double
        var forwardMs: Double
        var backwardMs: Double
    }

    var median: Double { Self.median(stepSeconds) }
    var best: Double { stepSeconds.min() ?? .nan }
    var cachedMedian: Double? { cachedStepSeconds.map(Self.median) }
    var cachedBest: Double? { cachedStepSeconds?.min() }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var tokensPerSecond: Double { Double(tokensPerStep) / median }
    var gflops: Double { flopsPerStep / median / 1e9 }
}

/// Builds one configuration (random weights through the real model plugins, the loss plugin,
/// RMSprop with the reference's schedule and clipping) and times the trainer's step
/// (`TrainingStep`, through `BenchStep`). Runs in its own process so peak memory is this configuration's alone.
struct StepBenchCase {
    let shape: BenchModelShape
    let loss: BenchLoss
    let pairs: Int
    let steps: Int
    let warmup: Int
    let threads: Int?
    let seed: UInt64
    let phases: Bool
    /// Also time the step with cached reference log-probs (DPO only).
    let cachedReference: Bool
    var activationCheckpointing = false
    /// Project every position to the vocabulary, not only those whose label counts.
    var allLogitRows = false
    /// Run each pair's prompt once (`ModelLoss.sharesPrompts`).
    var sharedPrompt = true
    /// Run shared prompts and rows as one sequence where the plugin allows it
    /// (`ModelPlugin.packsSharedPrompt`); false: the prompts as a forward of their own.
    var packedPrompt = true
    /// Time every op of the live steps (`OpProfile`) and every matrix product (`GemmProductLog`).
    var profileOps = false
    /// Seconds per product and round when the logged products are timed again on warm caches.
    var productSeconds = 0.1
    /// LoRA rank: adapters on every linear, the base frozen, the reference its adapters-off view.
    var lora: Int?
    /// The frozen base's type under LoRA (`model.reference_dtype`): 16-bit held compact.
    var loraBase: WeightPrecision = .float32

    func run() throws -> StepBenchResult {
        let registry = PluginRegistry()
        try PluginDiscovery(installDirectory: nil, searchPath: []).discover(into: registry)
        let directory = try RandomModelDirectory(shape: shape, registry: registry, seed: seed)
        defer { directory.remove() }
        // The random weights, written and freed, sit in the buffer cache: hand them back so the
        // peak below is the training's, not the benchmark's scaffolding.
        BufferCache.shared.trim()
        StepBenchCase.trace("directory")
        let pool = WorkerPool(threads: threads)
        let policy = try LanguageModel(directory: directory.path, registry: registry, trainable: lora == nil)
        policy.activationCheckpointing = activationCheckpointing
        var reference: LanguageModel?
        if let lora {
            try policy.compactWeights(as: loraBase)
            _ = try policy.attachLoRA(LoRASettings(r: lora, alpha: Double(2 * lora), targetModules: ["all-linear"]), seed: UInt32(seed))
            reference = loss.needsReference ? policy.referenceView() : nil
        } else if loss.needsReference {
            reference = try LanguageModel(directory: directory.path, registry: registry, trainable: false)
        }
        StepBenchCase.trace("models")
        let plugin = loss.plugin
        let lossPlugin = try LossPlugin(registry.resolve(kind: .loss, name: plugin.name), options: plugin.options)
        let update = BenchStep(
            model: ModelLoss(policy: policy, reference: reference,
                             loss: CombinedLoss([WeightedLoss(name: "loss", computation: LossComputation(plugin: lossPlugin))]), pool: pool),
            step: TrainingStep(parameters: policy.trainableParameters, optimizer: RMSprop(),
                               schedule: LearningRateSchedule(baseLearningRate: 5e-7, warmupSteps: 150), maxGradNorm: 10, pool: pool))
        update.model.selectsLogitRows = !allLogitRows
        update.model.sharesPrompts = sharedPrompt
        for model in [policy, reference].compactMap({ $0 }) where !packedPrompt { model.plugin.packsSharedPrompt = false }
        let input = try BenchBatch.make(pairs: pairs, length: shape.sequence, vocab: shape.size.vocab, loss: loss, seed: seed + 1)

        let cached = cachedReference && loss.cachesReference
            ? [try update.referenceLogProbs(input)] : nil

        var firstLoss = Double.nan
        for _ in 0..<warmup {
            let outcome = try update.run([input], chosenOnly: loss == .sft)
            if firstLoss.isNaN { firstLoss = Self.meanLoss(outcome) }
            if let cached { _ = try update.run([input], chosenOnly: false, cachedReference: cached) }
        }
        let profile = profileOps ? OpProfile() : nil
        let productLog = profileOps ? GemmProductLog() : nil
        let timer = phases ? PhaseTimer() : nil
        let cachedTimer = phases && cached != nil ? PhaseTimer() : nil
        StepBenchCase.trace("warmup")
        var times: [Double] = [], cachedTimes: [Double] = []
        let load = CPULoad()
        for _ in 0..<steps {
            update.timer = timer
            update.profile = profile
            let start = DispatchTime.now().uptimeNanoseconds
            let outcome = try Gemm.logging(into: productLog) { try update.run([input], chosenOnly: loss == .sft) }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            update.profile = nil
            if firstLoss.isNaN { firstLoss = Self.meanLoss(outcome) }
            if let cached {
                // Interleaved with the live steps, so both see the same machine load.
                update.timer = cachedTimer
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try update.run([input], chosenOnly: false, cachedReference: cached)
                cachedTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
        }
        update.timer = nil
        // Read before the logged products are timed again: their operands and time are the
        // benchmark's, not the step's.
        let peak = ResourceUsage.peakResidentMiB()
        let otherLoad = load.flatMap { start in CPULoad()?.otherLoad(since: start) }
        let products = productLog.map { StepProducts($0, steps: steps, ceiling: ProductCeiling(seconds: productSeconds)) }

        let rows = input.ids.shape[0]
        let tokens = rows * shape.sequence
        let n = shape.flopParameters(policy.parameters.map { ($0.name, $0.variable.value.count) })
        let flops = 6.0 * Double(n) * Double(tokens) + (loss.needsReference ? 2.0 * Double(n) * Double(tokens) : 0)
        return StepBenchResult(
            model: shape.name, arch: shape.arch.rawValue, size: shape.size.rawValue, loss: loss.rawValue,
            batch: pairs, seq: shape.sequence, steps: steps, warmup: warmup, threads: pool.threads,
            flopParameters: n, tokensPerStep: tokens, flopsPerStep: flops, stepSeconds: times,
            peakRSSMiB: peak, firstLoss: firstLoss,
            otherLoad: otherLoad,
            phases: timer.map { t in t.totals.mapValues { $0 / Double(max(steps, 1)) } },
            cachedStepSeconds: cached == nil ? nil : cachedTimes,
            cachedPhases: cachedTimer.map { t in t.totals.mapValues { $0 / Double(max(steps, 1)) } },
            ops: profile.map { p in
                let n = Double(max(steps, 1))
                return p.entries.map { StepBenchResult.OpTime(op: $0.key, callsPerStep: Double($0.value.calls) / n,
                                                              forwardMs: $0.value.forwardSeconds * 1000 / n,
                                                              backwardMs: $0.value.backwardSeconds * 1000 / n) }
                    .sorted { $0.forwardMs + $0.backwardMs > $1.forwardMs + $1.backwardMs }
            },
            products: products)
    }

    static func trace(_ what: String) {
        guard ProcessInfo.processInfo.environment["TRACE_RSS"] != nil,
              let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return }
        let lines = status.split(separator: "\n").filter { $0.hasPrefix("VmHWM") || $0.hasPrefix("RssAnon") || $0.hasPrefix("RssFile") }
        FileHandle.standardError.write("\(what): \(lines.joined(separator: " "))\n".data(using: .utf8)!)
    }

    static func meanLoss(_ outcome: StepOutcome) -> Double {
        guard let losses = outcome.metrics.first(where: { $0.key.hasPrefix("loss/") })?.value, !losses.isEmpty else { return .nan }
        return losses.reduce(0.0) { $0 + Double($1) } / Double(losses.count)
    }
}

/// Peak resident memory of this process.
enum ResourceUsage {
    /// /proc/self/status's VmHWM: the peak of this program alone. getrusage's ru_maxrss survives
    /// exec on Linux, so a child would report its parent's peak (the ceiling's operands) instead.
    static func peakResidentMiB() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kib = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) {
            return kib / 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024   // Linux reports KiB
    }
}
