import Checkpoint
import Configuration
import DataPipeline
import Foundation
import Model
import Objective
import Parallel
import PluginHost
import TensorCore
import Tokenizers

/// A setting the run cannot go ahead with, said in one line naming the key.
public struct TrainingSetupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A failure on one rank of a run across ranks, named by rank and host (`rank 1 on node2`): every
/// rank's error reaches the job's output, and the reader must know which one failed.
public struct RankFailure: Error {
    public let rank: String
    public let underlying: Error
}

/// Resolves the config into models, tokenizer, loss and data, then runs the chosen trainer.
public struct TrainingSession {
    let arguments: [String]
    let extraPlugins: [String]
    let installDirectory: String

    /// `arguments`: the `train` command line (overrides, `--config`, `--config-dir`, TRL flags);
    /// `extraPlugins`: `--plugin` libraries; `installDirectory`: where bundles are installed.
    public init(arguments: [String], extraPlugins: [String], installDirectory: String) {
        self.arguments = arguments
        self.extraPlugins = extraPlugins
        self.installDirectory = installDirectory
    }

    static func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    /// A reference of its own scores the policy's tokens: its config.json must give the same vocab_size.
    static func checkSameVocabulary(policy: LanguageModel, reference: LanguageModel) throws {
        if let p = policy.configInteger("vocab_size"), let r = reference.configInteger("vocab_size"), p != r {
            throw TrainingSetupError("model.reference_name_or_path=\(reference.directory): its vocab_size \(r) differs from the "
                                  + "policy's \(p) (\(policy.directory)); the reference must share the policy's tokenizer")
        }
    }

    /// The summary, and whether this process is rank 0 (the one that reports).
    public func run() throws -> (TrainingSummary, isRoot: Bool) {
        let setup = try prepare()
        let world = try setup.loaded.config.trainer.startWorld(setup.loaded.config)
        let summary: TrainingSummary
        do {
            summary = try run(setup, communicator: world?.communicator)
        } catch {
            // No MPI_Finalize here: it would wait for the other ranks, which wait in a collective
            // for this one; exiting without it makes mpirun end the job at once (MPIWorld).
            guard let communicator = world?.communicator, communicator.size > 1 else { throw error }
            throw RankFailure(rank: communicator.describe(rank: communicator.rank), underlying: error)
        }
        let isRoot = (world?.communicator.rank ?? 0) == 0
        world?.finalize()
        return (summary, isRoot)
    }

    /// The run's configuration, composed once, and the plugins it may use.
    struct Setup {
        let loaded: LoadedConfig
        let environment: ConfigEnvironment
        let registry: PluginRegistry
        /// Plugins that could not be loaded (told by the root once it narrates).
        let pluginWarnings: [String]
    }

    /// The processes mpirun started (1 without it), known before MPI starts.
    static var launchedRanks: Int { Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] ?? "1") ?? 1 }

    /// Finds the plugins, then composes the config: a loss plugin without `config/loss/NAME.yaml`
    /// gives `loss=NAME` its declared options (LossObjective.configDefaults). Plugins the config
    /// names (`plugins: [...]`) are loaded after it, explicit as the command line's `--plugin`.
    private func prepare() throws -> Setup {
        let commandLine = try ConfigCommandLine(EasyDeLArguments.translate(arguments))
        let environment = ConfigEnvironment.current()
        let configDir = try ConfigDirectoryLocator(environment: environment, executablePath: CommandLine.arguments[0])
            .locate(explicit: commandLine.configDirectory)
        let registry = PluginRegistry()
        let warnings = try PluginDiscovery(installDirectory: installDirectory, explicit: extraPlugins).discover(into: registry)
        let loaded = try ConfigLoader(configDirectory: configDir, environment: environment,
                                      groupDefaults: LossObjective.configDefaults(registry))
            .load(arguments: commandLine.overrides, userConfigFile: commandLine.userConfigFile, worldSize: Self.launchedRanks)
        // A file the command line's `--plugin` named too is registered already (loaded once).
        for path in loaded.config.plugins { _ = try registry.load(path: path, origin: .explicit) }
        return Setup(loaded: loaded, environment: environment, registry: registry, pluginWarnings: warnings)
    }

    private func run(_ setup: Setup, communicator: Communicator?) throws -> TrainingSummary {
        let isRoot = (communicator?.rank ?? 0) == 0
        // The other ranks compute the same things: only the root narrates.
        let log: (String) -> Void = { if isRoot { Self.log($0) } }
        let loaded = setup.loaded, environment = setup.environment, registry = setup.registry
        for warning in loaded.warnings { log("warning: \(warning)") }
        var config = loaded.config
        if let resume = config.resume, isRoot {
            try ResumeCheck.check(current: loaded.tree, runDirectory: URL(fileURLWithPath: resume))
        }
        for warning in setup.pluginWarnings { log("warning: \(warning)") }

        // Before any product: the library is loaded once, with the kernel chosen for this processor
        // (a resumed run keeps the library its checkpoint was computed with).
        let resumed = TrainerState.newest(in: config.resume)
        let (backend, resumeNote) = try ResumedGemmBackend.choose(config.gemmBackend, resumed: resumed)
        let gemm = try Gemm.use(backend)
        for line in gemm.report { log(line) }
        if let resumeNote { log(resumeNote) }
        let pool = WorkerPool(threads: config.threads)
        log("threads: \(pool.threads) (products split in \(pool.blasThreads) blocks, the library single-threaded)")
        if let communicator { log("MPI: \(communicator.hostSummary)") }
        let modelPath = config.model.nameOrPath
        let tokenizer = try TokenizerLoader.load(directory: URL(fileURLWithPath: config.model.tokenizerNameOrPath ?? modelPath))
        // LoRA: the base is frozen (no gradients, no optimizer state); the adapters train.
        let policy = try LanguageModel(directory: modelPath, registry: registry, trainable: !config.lora.enabled)
        if let note = try policy.checkBlockName(config.model.blockName) { log(note) }
        try policy.checkPositions(config.maxLength, for: "max_length=\(config.maxLength)")
        let objective = try LossObjective.build(config.loss, registry: registry,
                                                desensitization: config.ldAlpha.map { LengthDesensitization(alpha: Float($0)) },
                                                weighting: config.useWeighting)
        if config.ldAlpha != nil && objective.chosenOnly {
            throw TrainingSetupError("ld_alpha weights a pair's responses past their shared length; an SFT run has no pairs")
        }
        if config.useWeighting && objective.chosenOnly {
            throw TrainingSetupError("use_weighting weighs preference pairs; an SFT run has none")
        }
        if config.lora.enabled {
            guard config.trainer != .tensorParallel else {
                throw TrainingSetupError("lora.r=\(config.lora.r) runs under BasicTrainer or FSDPTrainer; TensorParallelTrainer does not split adapters (train the whole model there)")
            }
            guard !config.syncRefModel else { throw TrainingSetupError("sync_ref_model=true moves the reference toward the policy; with LoRA the reference is the base weights themselves") }
        }
        let referencePath = config.model.referenceNameOrPath ?? modelPath
        // With LoRA the reference is the policy's own weights with the adapters off (below).
        let loraReference = config.lora.enabled && config.model.referenceNameOrPath == nil
        var reference = objective.needsReference && !loraReference
            ? try LanguageModel(directory: referencePath, registry: registry, trainable: false) : nil
        if let reference, referencePath != modelPath {
            try Self.checkSameVocabulary(policy: policy, reference: reference)
            log("reference model: \(referencePath)")
        }
        if let note = ResumedPromptPacking.apply(resumed: resumed, to: [policy] + [reference].compactMap { $0 },
                                                 sharing: config.sharePrompt) { log(note) }
        // The reference's weights in reference_dtype, as the reference implementation casts them.
        reference?.castWeights(to: try WeightPrecision(configValue: config.model.referenceDtype))
        if reference == nil && config.syncRefModel {
            throw TrainingSetupError("sync_ref_model=true: no loss of \(config.loss.names.joined(separator: ", ")) reads a reference model")
        }
        if reference == nil && !(loraReference && objective.needsReference) { log("no reference model: every loss (\(config.loss.names.joined(separator: ", "))) is reference-free") }
        if let archive = config.model.archive {
            // As the reference: the archive initialises the policy AND the reference.
            // A reference of its own (model.reference_name_or_path) keeps its weights.
            // An archive holding a LoRA adapter (an SFT stage run with LoRA, or a PEFT adapter
            // folder) is merged into the base weights: both models start from the adapted model.
            let adapter = LanguageModel.adapterFolder(of: archive)
            let intoReference = config.model.referenceNameOrPath == nil ? reference : nil
            if adapter == nil || (try? ModelDirectory.weightFile(at: archive)) != nil {
                let weights = try CheckpointStore.weights(in: archive)
                try policy.load(weights: weights, from: archive)
                try intoReference?.load(weights: weights, from: archive)
            }
            if let adapter {
                try policy.mergePEFTAdapter(directory: adapter)
                try intoReference?.mergePEFTAdapter(directory: adapter)
            }
            log("loaded \(archive)\(adapter == nil ? "" : " with its LoRA adapter merged") into the policy\(intoReference == nil ? "" : " and the reference")")
        }
        if config.lora.enabled {
            // The frozen base in reference_dtype, held as 16-bit values (before the adapters are
            // attached: they find their linears by the weights the plugin is bound to).
            let baseDtype = try WeightPrecision(configValue: config.model.referenceDtype)
            if baseDtype != .float32 {
                if communicator == nil {   // FSDP slices it instead
                    try policy.compactWeights(as: baseDtype)
                    log("LoRA: frozen base held in \(baseDtype.rawValue) (model.reference_dtype): \(String(format: "%.3f", Double(policy.parameterCount * 2) / 1_048_576)) MiB, each parameter widened to float32 while a forward uses it")
                } else {
                    policy.castWeights(to: baseDtype)
                    log("LoRA: frozen base rounded to \(baseDtype.rawValue) (model.reference_dtype), sharded in float32 slices")
                }
            }
            let lora = try policy.attachLoRA(config.lora, seed: UInt32(truncatingIfNeeded: config.seed))
            let trained = lora.parameters.reduce(0) { $0 + $1.variable.value.count }
            log("LoRA: r=\(config.lora.r), scale \(lora.settings.scale), \(lora.adapters.count) adapted linears\(lora.saved.isEmpty ? "" : ", trained in full: " + lora.saved.map(\.name).joined(separator: ", ")); \(trained) trainable parameters of \(policy.parameterCount + trained) (\(String(format: "%.2f", 100 * Double(trained) / Double(policy.parameterCount + trained)))%)")
            if objective.needsReference && loraReference {
                reference = policy.referenceView()
                log("reference model: the policy's weights with the adapters off (no second copy)")
            }
        }
        // What a precomputed cache of its log-probs is checked against: the weights as they run
        // (after the archive, before any compaction).
        let referenceFingerprint = config.precomputeRefLogProbs ? reference?.weightFingerprint() : nil
        // Tensor parallelism splits the models now, before the run directory exists.
        let splitModels = try config.trainer.splitModels(policy: policy, reference: reference, communicator: communicator)
        if config.precomputeRefLogProbs {
            // Cached per-sequence log-probs cannot follow a moving reference nor feed a loss that
            // needs the reference's full distribution (TDPO's per-token KL).
            if config.syncRefModel {
                throw TrainingSetupError("precompute_ref_log_probs=true cannot be combined with sync_ref_model=true (the reference changes during training)")
            }
            if let term = objective.terms.first(where: { $0.computation.plugin.needs.contains(.logits) }) {
                throw TrainingSetupError("precompute_ref_log_probs=true: loss '\(term.name)' needs the reference model's full logits, not cached sequence log-probs")
            }
        }
        let specs = config.datasets.map { DatasetSpec(name: $0, options: config.datasetOptions[$0] ?? [:]) }
        let source = DatasetSource(registry: registry)
        let sftMode = objective.chosenOnly
        let conversations = ConversationSource(templateFile: config.chatTemplate, tokenizer: tokenizer,
                                               tokenizerDirectory: config.model.tokenizerNameOrPath ?? modelPath)
        func prompts(_ split: String) throws -> [FlatPrompt] {
            let all = try conversations.render(try source.flatPrompts(specs, split: split).truncating(config.truncationMode), log: log)
            let (kept, dropped) = all.droppingRowsTRLDrops(tokenizer: tokenizer, limits: config.truncationLimits, sftMode: sftMode)
            if dropped > 0 {
                log("\(split): \(dropped) \(sftMode ? "prompts" : "pairs") dropped whose prompt alone reaches max_length=\(config.maxLength) (tokenization=trl, as TRL drops them)")
            }
            guard !kept.isEmpty else {
                throw DataError.noRecords("every \(split) row's prompt alone reaches max_length=\(config.maxLength) (tokenization=trl drops such rows)")
            }
            return kept
        }
        let train = try prompts("train")
        // n_eval_examples=0: no evaluation, and no test split is asked for.
        let eval = config.nEvalExamples == 0 ? [] : try prompts("test")
        log("\(config.loss.name): \(train.count) train prompts, \(eval.count) eval prompts; policy \(policy.modelType) with \(policy.parameterCount) parameters")

        // The run directory: the one being resumed, or a new one.
        var runDirectory: URL
        if let resume = config.resume {
            runDirectory = URL(fileURLWithPath: resume)
            config.localRunDir = resume
        } else if isRoot {
            runDirectory = try RunDirectory.create(config.localRunDir, environment: environment)
            try Data(loaded.effectiveYAML().utf8).write(to: runDirectory.appendingPathComponent("config.yaml"), options: .atomic)
        } else {
            runDirectory = URL(fileURLWithPath: config.localRunDir, isDirectory: true)
        }
        if let communicator {
            // The directory name carries a timestamp: every rank uses the root's.
            config.localRunDir = try communicator.broadcast(string: runDirectory.path)
            runDirectory = URL(fileURLWithPath: config.localRunDir, isDirectory: true)
        }
        log("run directory: \(runDirectory.path)")

        if communicator == nil, let reference, !reference.isView, reference.valuePrecision != .float32 {
            // One process: hold the reference as 16-bit values (FSDP slices it instead).
            try reference.compactWeights()
            log("reference weights held in \(reference.valuePrecision.rawValue): \(String(format: "%.3f", Double(reference.parameterCount * 2) / 1_048_576)) MiB, one block expanded to float32 at a time")
        }
        let run = TrainingRun(config: config, policy: policy, reference: reference, tokenizer: tokenizer,
                              loss: objective, train: train, eval: eval, runDirectory: runDirectory,
                              referenceFingerprint: referenceFingerprint)
        // The run holds the only handle now, so a trainer that is done with it can free it.
        reference = nil
        return try config.trainer.makeTrainer(run: run, split: splitModels, communicator: communicator, pool: pool, log: log).train()
    }
}
