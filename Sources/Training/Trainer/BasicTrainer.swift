import Autograd
import Checkpoint
import Configuration
import DataPipeline
import Foundation
import Model
import Objective
import Parallel
import PluginHost
import Reporting
import TensorCore
import Tokenizers

/// Everything one training run needs, resolved from the config by the caller.
public struct TrainingRun {
    public var config: TrainingConfig
    public var policy: LanguageModel
    /// The frozen reference (nil for SFT).
    public var reference: LanguageModel?
    public var tokenizer: any Tokenizer
    public var loss: CombinedLoss
    public var train: [FlatPrompt]
    public var eval: [FlatPrompt]
    public var runDirectory: URL
    /// `LanguageModel.weightFingerprint()` of the reference as it computes, taken before its
    /// weights are compacted; it names the reference in a precomputed cache's provenance.
    public var referenceFingerprint: String?

    public init(config: TrainingConfig, policy: LanguageModel, reference: LanguageModel?, tokenizer: any Tokenizer,
                loss: CombinedLoss, train: [FlatPrompt], eval: [FlatPrompt], runDirectory: URL,
                referenceFingerprint: String? = nil) {
        self.config = config; self.policy = policy; self.reference = reference; self.tokenizer = tokenizer
        self.loss = loss; self.train = train; self.eval = eval; self.runDirectory = runDirectory
        self.referenceFingerprint = referenceFingerprint
    }

    /// Every loss reads the chosen rows only (`DPH_LOSS_CHOSEN_ONLY`, SFT): batches hold the SFT
    /// targets alone (the reference's sft_mode).
    public var sftMode: Bool { loss.chosenOnly }
}

public enum TrainingError: Error, CustomStringConvertible {
    /// `checkpoint`: the newest complete checkpoint folder, nil when none was written yet.
    case nonFinite(what: String, update: Int, examples: Int, checkpoint: String?)
    case emptyEvalSet
    case lessThanOneBatch(count: Int, unit: String, batchSize: Int)
    public var description: String {
        switch self {
        case let .nonFinite(what, update, examples, checkpoint):
            let kept = checkpoint.map { "the last complete checkpoint (\($0)) is kept" } ?? "no checkpoint had been written yet"
            return "the \(what) became non-finite at update \(update) (after \(examples) examples); stopped without saving, \(kept)"
        case .emptyEvalSet: return "the evaluation set is empty (n_eval_examples or the test split)"
        case let .lessThanOneBatch(count, unit, batchSize):
            return "the training data has \(count) \(unit), fewer than one batch (batch_size=\(batchSize)): not one step would run"
        }
    }
}

public struct TrainingSummary {
    public let examples: Int
    public let updates: Int
    public let lastEval: [String: Double]
    public let firstEval: [String: Double]
    public let runDirectory: URL
    /// The metrics of the last train step, the examples this process trained (from the resumed
    /// checkpoint on) and the seconds that took.
    public var lastTrain: [String: Double] = [:]
    public var examplesTrained = 0
    public var seconds = 0.0
    /// Where the run's metrics went (`report_to`) and the MLflow store, if one was written.
    public var reportTo: [ReportDestination] = [.jsonl]
    public var mlflowStore: URL?
}

/// One process: policy forward/backward on each microbatch, frozen reference forward, loss
/// plugin, clipping, optimizer; evaluation before the update at every `eval_every` examples,
/// checkpoints, metrics.jsonl and eval samples in the run directory (docs/spec/training.md §3-§11).
///
/// The same loop runs FSDP (`FSDPTrainer`): then every rank computes on its slice of each batch
/// (`RankShare`), the update is sharded (`ShardedUpdate`), metrics are gathered, and only the
/// root writes. Tensor parallelism (`TensorParallelTrainer`) runs it with the whole batch on every
/// rank, the marked linears split (`TensorParallelUpdate`) and checkpoints gathered to the root.
public final class BasicTrainer {
    /// The run; its reference is released once precompute_ref_log_probs has cached it.
    public private(set) var run: TrainingRun
    public let pool: WorkerPool
    private let log: (String) -> Void
    private let store: CheckpointStore
    private let update: ParameterUpdate
    private let share: RankShare
    /// Every update: forward, loss and backward per microbatch, then clip and step.
    private let trainingStep: TrainingStep
    private let length: RunLength
    private var examples = 0
    private var updates = 0
    /// The newest complete checkpoint's folder name (`step-N`) on every rank, for messages: set
    /// when the run resumes and at each save (nil before the first).
    private var lastCheckpointName: String?
    private var lastLogTime: Date?
    /// Reference log-probs computed once before training (`precompute_ref_log_probs`).
    private var referenceCache: ReferenceLogProbCache?
    private var memoryReported = false
    /// Collectives of the updates (not evaluation or checkpoints), for `reportCommunication`.
    private var communication = UpdateCommunication()
    /// metrics.jsonl and the other `report_to` destinations (the root rank only).
    private var logs: RunLogs?
    private var sharedPromptReported = false
    private var firstEval: [String: Double] = [:]
    private var lastEval: [String: Double] = [:]

    public convenience init(run: TrainingRun, pool: WorkerPool, log: @escaping (String) -> Void) throws {
        let update = LocalUpdate(parameters: run.policy.trainableParameters, optimizer: try OptimizerFactory.make(run.config.optimizer, weightDecay: run.config.weightDecay),
                                 pool: pool)
        try self.init(run: run, pool: pool, log: log, share: RankShare(communicator: nil), update: update)
    }

    init(run: TrainingRun, pool: WorkerPool, log: @escaping (String) -> Void, share: RankShare, update: ParameterUpdate) throws {
        self.run = run
        self.pool = pool
        self.log = log
        self.share = share
        self.update = update
        self.store = CheckpointStore(runDirectory: run.runDirectory)
        let c = run.config
        length = RunLength(run)
        let totalSteps = length.plannedExamples / c.batchSize
        let schedule = LearningRateSchedule(
            kind: c.lrSchedulerType, baseLearningRate: c.lr,
            warmupSteps: c.warmupRatio.map { LearningRateSchedule.warmupSteps(ratio: $0, totalSteps: totalSteps) } ?? c.warmupSteps,
            totalSteps: totalSteps, minimumRate: c.minLRRate)
        trainingStep = TrainingStep(update: update, schedule: schedule, maxGradNorm: Float(c.maxGradNorm), pool: pool)
        // Only the policy records activations; the reference always runs without grad.
        run.policy.activationCheckpointing = run.config.activationCheckpointing
        if run.config.activationCheckpointing {
            log("activation checkpointing: each policy block keeps only its inputs and is recomputed in backward")
        }
    }

    var limits: TruncationLimits { run.config.truncationLimits }

    public func train() throws -> TrainingSummary {
        let c = run.config
        let started = Date()
        var lastTrain: [String: Double] = [:]
        var resumeAt: IteratorPosition?
        var resumedExamples: Int?
        if c.resume != nil {
            // The root reads the checkpoint and hands it to the other ranks, so only the root's
            // machine needs the run directory.
            var folder = URL(fileURLWithPath: ""), saved: TrainerState?
            var optimizerState: [String: Tensor] = [:], weights: [String: Tensor] = [:], synced: [String: Tensor] = [:]
            if share.isRoot {
                (folder, saved, optimizerState) = try store.loadLatest()
                try ResumeCheck.checkState(examples: saved!.examples, updates: saved!.updates, folder: folder, batchSize: c.batchSize)
                try rewindLogs(toExamples: saved!.examples)
                weights = try CheckpointStore.weights(in: folder.path)
                let syncedReference = folder.appendingPathComponent(CheckpointStore.referenceFileName).path
                if run.reference != nil, FileManager.default.fileExists(atPath: syncedReference) {
                    synced = try CheckpointStore.tensors(inFile: syncedReference)
                }
            }
            folder = URL(fileURLWithPath: try share.broadcast(share.isRoot ? folder.path : nil) as String)
            let state = try share.broadcast(saved) as TrainerState
            let restored = try share.broadcast(weights)
            try run.policy.load(weights: restored, from: folder.path)
            try run.policy.lora?.load(restored, from: folder.path)
            try update.load(state: share.broadcast(optimizerState), stepCount: state.optimizerSteps)
            synced = try share.broadcast(synced)
            if let reference = run.reference, !synced.isEmpty { try reference.load(weights: synced, from: folder.path) }
            examples = state.examples
            updates = state.updates
            lastCheckpointName = CheckpointStore.folderName(examples: state.examples)
            resumeAt = state.data
            resumedExamples = state.examples
            log("resumed from \(folder.path) at \(examples) examples, \(updates) updates")
        }
        let startExamples = examples
        var iterator = try BatchIterator(prompts: run.train, tokenizer: run.tokenizer, options: BatchIteratorOptions(
            batchSize: c.batchSize, epochs: c.nEpochs, examples: length.examplesCap, sftMode: run.sftMode, limits: limits,
            seed: UInt32(c.dataSeed), tdpoPermutationSeeds: run.loss.dataOrder31BitSeeds),
            resumingAt: resumeAt)
        // n_eval_examples=0 turns evaluation off (TRL without an eval set); the checkpoints then
        // come from save_steps and the end of the run.
        let evaluates = c.nEvalExamples > 0
        var evalBatches: [Batch] = []
        if evaluates {
            var evalIterator = try BatchIterator(prompts: run.eval, tokenizer: run.tokenizer, options: BatchIteratorOptions(
                batchSize: c.evalBatchSize, examples: c.nEvalExamples, sftMode: run.sftMode, limits: limits,
                seed: UInt32(c.dataSeed), tdpoPermutationSeeds: run.loss.dataOrder31BitSeeds))
            evalBatches = try evalIterator.collect()
        }
        guard !evaluates || !evalBatches.isEmpty else { throw TrainingError.emptyEvalSet }
        if c.precomputeRefLogProbs, let reference = run.reference {
            referenceCache = try precomputeReference(reference)
            // Nothing reads the reference again: its memory goes back, as TRL's does.
            run.reference = nil
            log("reference model released: precompute_ref_log_probs cached what the steps read from it")
        }
        logs = share.isRoot ? try RunLogs(directory: run.runDirectory, destinations: c.reportTo,
                                          samplesFile: run.runDirectory.appendingPathComponent(Self.samplesFileName),
                                          experiment: c.expName) : nil
        var finished = false
        defer { try? logs?.finish(failed: !finished) }
        guard length.units >= c.batchSize else {
            throw TrainingError.lessThanOneBatch(count: length.units, unit: run.sftMode ? "examples" : "preference pairs", batchSize: c.batchSize)
        }
        let progress = ProgressDisplay(total: length.plannedExamples, mode: share.isRoot ? c.progress : .off)
        defer { progress.finish() }

        while true {
            let before = iterator.position
            guard let batch = try iterator.next() else { break }
            if evaluates && examples % c.evalEvery == 0 && (examples > 0 || c.doFirstEval) && resumedExamples != examples {
                let metrics = try evaluate(evalBatches)
                try logs?.append(MetricsRecord(examples: examples, split: "eval", values: metrics))
                // Weights that evaluate to a non-finite loss are never checkpointed.
                if let evalLoss = metrics.first(where: { $0.key.hasPrefix("loss/") })?.value, !evalLoss.isFinite {
                    throw TrainingError.nonFinite(what: "eval loss", update: updates, examples: examples, checkpoint: lastCheckpointName)
                }
                log("eval after \(examples) examples: " + Self.format(metrics))
                // With full parameters on every rank the root samples alone; split ones need
                // every rank in each forward.
                if c.sampleDuringEval && (share.isRoot || share.modelSpansRanks) { try sample(evalBatches) }
                // With save_steps the checkpoints keep their own cadence (below).
                if examples > 0 && !c.debug && c.saveSteps == nil { try save(position: before, evalMetrics: metrics) }
            }
            resumedExamples = nil
            let trafficBefore = share.communicator?.traffic, stepStart = Date()
            let values = try step(batch)
            communication.add(since: trafficBefore, to: share.communicator?.traffic, seconds: Date().timeIntervalSince(stepStart))
            lastTrain = values
            if !memoryReported { try reportMemory(); memoryReported = true }
            if let every = c.saveSteps, updates % every == 0, !c.debug { try save(position: iterator.position, evalMetrics: [:]) }
            let now = Date()
            // logging_steps: every that many updates (TRL's); otherwise at most once per minimum_log_interval_secs.
            let due = c.loggingSteps.map { updates % $0 == 0 }
                ?? (lastLogTime == nil || now.timeIntervalSince(lastLogTime!) >= c.minimumLogIntervalSecs)
            if due {
                lastLogTime = now
                try logs?.append(MetricsRecord(examples: examples, split: "train", values: values))
                progress.update(examples: examples, values: values.filter {
                    ["loss/train", "rewards_train/accuracies", "grad_norm"].contains($0.key)
                })
            }
        }
        try save(position: iterator.position, evalMetrics: [:])
        finished = true
        log("saved \(store.latest.path)")
        try reportCommunication()
        var summary = TrainingSummary(examples: examples, updates: updates, lastEval: lastEval, firstEval: firstEval,
                                      runDirectory: run.runDirectory)
        summary.lastTrain = lastTrain
        summary.examplesTrained = examples - startExamples
        summary.seconds = Date().timeIntervalSince(started)
        summary.reportTo = c.reportTo
        summary.mlflowStore = logs?.mlflowStore
        return summary
    }

    /// Forward, loss and backward over the microbatches, then clip and update. Returns the
    /// metrics to log (per-example values averaged, plus the reference's counters).
    func step(_ batch: Batch) throws -> [String: Double] {
        let c = run.config
        let start = Date()
        let parts = max(1, c.gradientAccumulationSteps)
        let outcome: StepOutcome
        do {
            outcome = try trainingStep.run(microbatches: parts, gather: share.gather) { k, tape in
                let micro = share.slice(parts == 1 ? batch : batch.slice(part: k, of: parts, padId: run.tokenizer.padTokenId),
                                        padId: run.tokenizer.padTokenId)
                return try lossOf(micro, split: .train, tape: tape)
            }
        } catch let stopped as NonFiniteValue {
            throw TrainingError.nonFinite(what: stopped.what, update: updates + 1, examples: examples, checkpoint: lastCheckpointName)
        }
        let (lists, norm, lr) = (outcome.metrics, outcome.gradNorm, outcome.learningRate)
        examples += c.batchSize
        updates += 1
        if c.syncRefModel, let reference = run.reference, updates % c.refModelSyncSteps == 0 {
            // TR-DPO: the reference moves toward the policy every ref_model_sync_steps updates.
            try reference.mix(toward: run.policy, alpha: Float(c.refModelMixupAlpha))
        }
        var values = lists.mapValues(Self.mean)
        values["grad_norm"] = Double(norm)
        values["learning_rate"] = Double(lr)
        let seconds = max(Date().timeIntervalSince(start), 1e-9)
        values["examples_per_second"] = Double(c.batchSize) / seconds
        values["tokens_per_second"] = Double(batch.tokenCount(includingRejected: !run.sftMode)) / seconds
        values["counters/examples"] = Double(examples)
        values["counters/updates"] = Double(updates)
        return values
    }

    /// Policy (on `tape`) and reference (no-grad, or cached) logits for one batch, then the loss plugins.
    func lossOf(_ batch: Batch, split: LossMetricSplit, tape: Tape) throws -> LossResult {
        let (ids, mask, labels) = run.sftMode ? (batch.chosenIds, batch.chosenMask, batch.chosenLabels) : batch.concatenated()
        var model = ModelLoss(policy: run.policy, reference: run.reference, loss: run.loss, pool: pool)
        model.sharesPrompts = run.config.sharePrompt
        if share.parametersSharded, let communicator = share.communicator, communicator.size > 1 {
            model.ranksAgree = { canShare in try communicator.allReduceSum([canShare ? 0 : 1])[0] == 0 }
        }
        if !sharedPromptReported {
            model.sharedPromptRan = { [self] prompt, positions in
                guard !sharedPromptReported else { return }   // the reference's forward and the policy's
                sharedPromptReported = true
                if share.isRoot {
                    log("share_prompt: each pair's first \(prompt.length) of \(positions) positions run once for chosen and rejected (a batch shares up to its shortest prompt)")
                }
            }
        }
        return try model.compute(ids: ids, mask: mask, labels: labels, chosenOnly: run.sftMode,
                     cachedReference: try referenceCache.map { try $0.lookup(batch) }, split: split, tape: tape)
    }

    /// One reference pass over the train and eval pairs (or the cache a resumed run saved).
    func precomputeReference(_ reference: LanguageModel) throws -> ReferenceLogProbCache {
        let t = run.tokenizer, c = run.config
        let modes = Set((run.train + run.eval).map(\.truncationMode.rawValue)).sorted().joined(separator: ",")
        let tokenization = "tokenization=\(c.tokenization.rawValue) max_length=\(c.maxLength) max_prompt_length=\(c.maxPromptLength) "
            + "max_completion_length=\(c.maxCompletionLength.map(String.init) ?? "null") truncation=\(modes) "
            + "tokenizer=\(t.vocabularySize) ids, eos \(t.eosTokenId), bos \(t.bosTokenId.map(String.init) ?? "none")"
            + (c.ldAlpha.map { " ld_alpha=\($0)" } ?? "")
        let cache = ReferenceLogProbCache(provenance: run.referenceFingerprint.map {
            ReferenceLogProbCache.Provenance(reference: $0, tokenization: tokenization)
        })
        // A named cache serves every run over the same reference and tokenization; otherwise the
        // run directory keeps it for a resume.
        let file = c.referenceLogpsCache.map { URL(fileURLWithPath: $0) }
            ?? run.runDirectory.appendingPathComponent(ReferenceLogProbCache.fileName)
        if FileManager.default.fileExists(atPath: file.path) { try cache.load(from: file) }
        let before = cache.count
        try cache.fill(prompts: run.train + run.eval, reference: reference, tokenizer: run.tokenizer, limits: limits,
                       batchSize: run.config.evalBatchSize, sharePrompts: run.config.sharePrompt,
                       desensitization: run.config.ldAlpha.map { LengthDesensitization(alpha: Float($0)) }, pool: pool)
        if cache.count != before, share.isRoot { try cache.save(to: file) }
        log("reference log-probs cached for \(cache.count) pairs (\(cache.count - before) computed now)")
        return cache
    }

    /// Mean of every per-example metric over the fixed eval batches, without gradients.
    func evaluate(_ batches: [Batch]) throws -> [String: Double] {
        var lists: [String: [Float]] = [:]
        for batch in batches {
            let outcome = try lossOf(share.slice(batch, padId: run.tokenizer.padTokenId), split: .eval,
                                     tape: Tape(pool: pool, recording: false))
            for m in outcome.metrics { lists[m.name, default: []] += m.values }
        }
        let metrics = try share.gather(lists).mapValues(Self.mean)
        if firstEval.isEmpty { firstEval = metrics }
        lastEval = metrics
        return metrics
    }

    static let samplesFileName = "samples.jsonl"

    /// Back to what was logged when the checkpoint a run resumes from was saved: the metrics and
    /// samples logged after it are dropped, as the resumed run logs them again (no duplicates),
    /// and checkpoint folders a kill left half-written are removed.
    func rewindLogs(toExamples examples: Int) throws {
        try MetricsLog.rewind(run.runDirectory.appendingPathComponent("metrics.jsonl"), toExamples: examples)
        try JSONLinesFile.rewind(run.runDirectory.appendingPathComponent(Self.samplesFileName)) { line in
            ((try? JSONSerialization.jsonObject(with: line)) as? [String: Any])?["step"].flatMap { $0 as? Int }.map { $0 <= examples } ?? false
        }
        try store.removeIncompleteCheckpoints()
    }

    /// Samples from the policy (and the reference) for the first eval prompts, appended to
    /// samples.jsonl; transformers' sampling defaults (top-k 50, temperature 1), `max_length`
    /// counting the prompt.
    func sample(_ batches: [Batch]) throws {
        let c = run.config
        let count = max(1, c.nEvalModelSamples / max(c.evalBatchSize, 1))
        let url = run.runDirectory.appendingPathComponent(Self.samplesFileName)
        let file = share.isRoot ? try JSONLinesFile(url: url) : nil
        let models = [("policy", run.policy)] + (run.reference.map { [("reference", $0)] } ?? [])
        for batch in batches.prefix(count) {
            let prompts = batch.elements.map(\.promptIds)
            let width = prompts.map(\.count).max() ?? 0
            let newTokens = max(0, c.maxLength - width)
            guard newTokens > 0 else { continue }
            for (name, model) in models {
                let generator = Generator(model: model, eosId: run.tokenizer.eosTokenId, padId: run.tokenizer.padTokenId, pool: pool)
                let out = try generator.generate(prompts: prompts, options: SamplingOptions(
                    maxNewTokens: newTokens, greedy: false, seed: UInt64(c.seed) &+ UInt64(examples)))
                for (element, ids) in zip(batch.elements, out) {
                    let record = SampleRecord(step: examples, model: name, prompt: element.prompt,
                                              sample: run.tokenizer.decode(ids, skipSpecialTokens: true))
                    let line: [String: Any] = ["step": record.step, "model": record.model, "prompt": record.prompt,
                                               "sample": record.sample]
                    try file?.append(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]))
                    try logs?.sample(record)
                }
            }
        }
    }

    /// Writes a checkpoint with the FULL parameters and optimizer state (gathered to the root
    /// under FSDP), so it loads at any world size.
    func save(position: IteratorPosition, evalMetrics: [String: Double]) throws {
        let optimizerState = try update.checkpointState()
        var policyState = try share.fullState(of: run.policy)
        // LoRA: the adapters travel in the policy file too (a resume reads them back), and as
        // PEFT's adapter folder files beside it.
        let adapter = run.policy.lora.map { lora in
            (tensors: Dictionary(uniqueKeysWithValues: lora.parameters.map { ($0.name, $0.variable.value) }),
             config: lora.peftConfig(baseModel: run.policy.directory))
        }
        if let adapter { policyState?.merge(adapter.tensors) { $1 } }
        let referenceState = try run.config.syncRefModel ? run.reference.map { try share.fullState(of: $0) } : nil
        guard share.isRoot, let policyState else {
            lastCheckpointName = CheckpointStore.folderName(examples: examples)   // written by the root
            return
        }
        let state = TrainerState(examples: examples, updates: updates, optimizer: update.optimizerName,
                                 optimizerSteps: update.stepCount, data: position,
                                 samplingSeed: UInt64(run.config.seed), evalMetrics: evalMetrics,
                                 gemmBackend: Gemm.setup.library.kind.rawValue,
                                 packedPrompts: ResumedPromptPacking.recorded(for: [run.policy] + [run.reference].compactMap { $0 }))
        try store.save(policy: policyState, optimizerState: optimizerState, state: state,
                       reference: referenceState ?? nil, adapter: adapter,
                       modelConfigText: run.policy.configText, sideFilesFrom: run.policy.directory)
        lastCheckpointName = CheckpointStore.folderName(examples: examples)
    }

    /// What each rank's updates spent in collectives, logged at the end of a run across ranks:
    /// the bytes of the buffers per update, the seconds the rank waited on collectives (transfer
    /// and slower ranks, less what ran behind compute) against the update's own time, and the
    /// seconds of FSDP's collectives that ran while the rank computed (docs/multi-host.md).
    func reportCommunication() throws {
        guard let communicator = share.communicator, communicator.size > 1, communication.updates > 0 else { return }
        let n = Double(communication.updates)
        let t = communication.traffic
        let all = try share.gatherPerRank([Double(t.bytes) / n, Double(t.calls) / n, t.seconds / n, communication.seconds / n,
                                           t.overlappedSeconds / n])
        for (rank, v) in all.enumerated() where share.isRoot {
            let behind = v[4] >= 0.00005 ? String(format: "; %.4f s per update of collectives hidden behind compute", v[4]) : ""
            log(String(format: "communication %@: %.3f MiB per update in %.0f collectives, %.4f s per update waiting on them (%.0f%% of its %.4f s)%@",
                       communicator.describe(rank: rank), v[0] / 1_048_576, v[1], v[2], 100 * v[2] / max(v[3], 1e-9), v[3], behind))
        }
    }

    /// Per-rank bytes of parameters, gradients and optimizer state, logged once the optimizer
    /// state exists (after the first update).
    func reportMemory() throws {
        if share.isRoot {
            let held = run.reference.map { r -> String in
                if r.isView { return "none of its own (the policy's weights with the LoRA adapters off)" }
                let bytes = Double(r.parameterCount * (r.valuePrecision == .float32 ? 4 : 2))
                return String(format: "%.3f MiB of weights (%@)", bytes / 1_048_576, r.valuePrecision.rawValue)
            }
            log("reference model held: " + (held ?? "none"))
        }
        let m = update.memory()
        let all = try share.gatherPerRank([m.parameters, m.masterShard, m.gradients, m.optimizerState].map(Double.init))
        for (rank, v) in all.enumerated() {
            var line = TrainingMemory(parameters: Int(v[0]), masterShard: Int(v[1]), gradients: Int(v[2]), optimizerState: Int(v[3]))
            line.parameterKind = m.parameterKind
            log(line.line(rank: rank))
        }
    }

    static func mean(_ values: [Float]) -> Double {
        values.isEmpty ? .nan : values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
    }

    static func format(_ metrics: [String: Double]) -> String {
        metrics.keys.sorted().map { "\($0)=\(String(format: "%.4g", metrics[$0]!))" }.joined(separator: " ")
    }
}

/// How much a run trains, worked out once from its data and config.
struct RunLength {
    /// What one example is: a preference pair, or an SFT example.
    let units: Int
    /// The example budget: n_examples, and TRL's fractional num_train_epochs as the updates
    /// transformers runs for it, `ceil(epochs * batches per epoch)` whole batches (at least one).
    let examplesCap: Int?
    /// The examples the run trains on: the budget, or n_epochs of whole batches, whichever ends first.
    let plannedExamples: Int

    init(_ run: TrainingRun) {
        let c = run.config
        units = run.sftMode ? run.train.count : run.train.reduce(0) { $0 + $1.record.pairs.count }
        let batches = units / c.batchSize
        let fractional = c.numTrainEpochs.map { max(1, Int(($0 * Double(max(1, batches))).rounded(.up))) * c.batchSize }
        examplesCap = [c.nExamples, fractional].compactMap { $0 }.min()
        plannedExamples = [examplesCap, c.nEpochs.map { $0 * batches * c.batchSize }].compactMap { $0 }.min() ?? 0
    }
}

/// The collectives of a run's updates, summed.
struct UpdateCommunication {
    var traffic = Communicator.Traffic()
    var seconds = 0.0
    var updates = 0

    /// Adds one update: the traffic between two readings of the counters and its seconds.
    mutating func add(since before: Communicator.Traffic?, to after: Communicator.Traffic?, seconds: Double) {
        guard let before, let after else { return }
        traffic = traffic + (after - before)
        self.seconds += seconds
        updates += 1
    }
}
