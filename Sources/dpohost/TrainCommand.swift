import ArgumentParser
import Checkpoint
import Configuration
import DataPipeline
import Distributed
import Foundation
import PluginHost
import TensorCore
import Tokenizers
import Training

/// `dpohost train key=value ...`: the reference's `python -u train.py key=value ...`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a policy: SFT (loss=sft) or preference training (loss=dpo|cdpo|ipo|tdpo|<plugin>).",
        discussion: """
        Arguments are the DPO reference's Hydra overrides, e.g.
          dpohost train model=pythia28 datasets=[hh] loss=dpo loss.beta=0.1 \\
            exp_name=my_run model.archive=/path/to/sft_run/LATEST

        Also: --config FILE.yaml (merged before the overrides), --config-dir DIR,
        +key=value to add a key, resume=RUN_DIR to continue an interrupted run.
        Datasets read local files: set dataset_options.<name>.<option>=... (see
        `dpohost plugins info <dataset>`).

        Several losses: loss=[dpo,sft] loss.weights=[1.0,0.2].

        Conversational data (TRL's message-list layouts in the jsonl dataset) is rendered with
        the model's chat template, or --chat-template FILE (chat_template=FILE); see `dpohost
        data chat-template` and `dpohost data inspect`.

        Matrix products: gemm_backend=auto|openblas|onednn (auto: oneDNN on AVX-512
        processors, OpenBLAS with the kernel dpohost chooses elsewhere; a resumed run
        keeps its checkpoint's library).

        Several processes: mpirun -np N dpohost train
        trainer=FSDPTrainer|TensorParallelTrainer ... (model.fsdp_policy_mp=bfloat16
        for bf16 communication); activation_checkpointing=true recomputes each block
        in backward; model.reference_dtype=float16|bfloat16|float32;
        model.reference_name_or_path=DIR gives the reference its own checkpoint
        (--ref-model); share_prompt=false runs each pair's shared prompt twice, as the
        reference does.

        report_to=[jsonl,tensorboard,mlflow] also writes a TensorBoard event file into
        the run directory (tensorboard --logdir RUN_DIR) and the run into MLflow's
        file store (MLFLOW_TRACKING_URI, else ./mlruns) as the run goes; metrics.jsonl
        is always written.

        TRL-style flags mean what they mean in TRL 1.16 (EasyDeL's where TRL has no
        such flag), e.g.
          dpohost train --loss-type ipo --beta 0.1 --dataset-path data.jsonl \\
            --model-name-or-path DIR --ref-model DIR --per-device-train-batch-size 8 \\
            --max-length 1024 --max-steps 100

        Given any of them, TRL's defaults apply first: tokenization=trl (special
        tokens as the tokenizer adds them, EOS added when missing, each whole row cut
        to --max-length by --truncation-mode, pairs whose prompt alone reaches it
        dropped), max_length 1024, lr 1e-6, AdamW with weight decay 0, linear decay,
        no warmup, max_grad_norm 1.0, logging every 10 steps, the reference in
        float32, beta 0.1; and each --loss-type means TRL's loss (sigmoid ignores
        label smoothing, ipo and sigmoid_norm divide each log-ratio by its length, sft
        is a token mean, bco_pair has no baseline, exo_pair needs --label-smoothing >
        0). Hydra-style keys keep the DPO reference's meaning.

        The flags: --loss-type (all of TRL's, a comma list), --loss-weights, --beta,
        --label-smoothing, --discopop-tau, --rpo-alpha (TRL<=0.27: sigmoid becomes
        rpo), --reference-free (EasyDeL: no reference model), --f-divergence-type,
        --f-alpha-divergence-coef, --ld-alpha, --use-weighting, --seed and --data-seed
        (the data order), --use-peft with --lora-r, --lora-alpha, --lora-dropout,
        --lora-target-modules, --lora-modules-to-save and --use-rslora (LoRA; TRL's
        defaults r 16, alpha 32, dropout 0.05),
        --ref-model, --weight-decay, --learning-rate, --exp-name,
        --dataset-path, --eval-dataset-path, --eval-batch-size, --do-first-eval,
        --precompute-ref-log-probs, --num-train-epochs (whole or, as in TRL, a
        fraction), --total-batch-size, --gradient-accumulation-steps, --max-length,
        --truncation-mode, --sync-ref-model, --ref-model-mixup-alpha,
        --ref-model-sync-steps, --warmup-steps (below 1: a ratio, as transformers 5),
        --warmup-ratio, --lr-scheduler-type, --max-steps, --eval-steps,
        --logging-steps, --save-steps (counts of updates, as in TRL),
        --per-device-train-batch-size and --per-device-eval-batch-size (times
        accumulation and processes, as in TRL), --max-grad-norm,
        --gradient-checkpointing, --seed, --output-dir, --optimizer, --report-to as
        TRL spells it: none, all, tensorboard, mlflow). A TRL flag dpohost does not
        offer (--bf16, --push-to-hub, ...) is an error saying so and why.

        Ranges (anything else is refused before the run starts, naming the key and
        value):
          batch_size, eval_batch_size, gradient_accumulation_steps, max_length, eval_every,
          ref_model_sync_steps >= 1; batch_size a multiple of gradient_accumulation_steps;
          max_prompt_length >= 1 and below max_length; n_epochs, n_examples, max_completion_length
          >= 1 or null; warmup_steps, n_eval_examples, n_eval_model_samples >= 0; lr,
          minimum_log_interval_secs and collective_timeout_secs (0: no watchdog) finite and >= 0;
          max_grad_norm finite and > 0; ref_model_mixup_alpha, warmup_ratio (or null) and min_lr_rate in [0, 1];
          threads from 1 to 4 per core.

        Learning rate: lr_scheduler_type=reference (the DPO reference's warmup, then
        constant) or transformers' constant, constant_with_warmup, linear, cosine,
        cosine_with_min_lr over the run's optimizer steps; warmup_ratio=0.1 sets the
        warmup as a fraction of them; learning_rate is logged.
        """)

    @Argument(parsing: .allUnrecognized, help: "Overrides: key=value, group=name, +key=value, --config FILE, --config-dir DIR.")
    var arguments: [String] = []

    @OptionGroup var plugins: PluginSourceOptions

    func run() throws {
        try CLIErrors.run {
            let (summary, isRoot) = try TrainingSession(arguments: arguments, extraPlugins: plugins.plugins,
                                                        installDirectory: plugins.installDirectory).run()
            if isRoot {
                print(TrainingSummaryText.lines(summary).joined(separator: "\n"))
            }
        }
    }
}

/// Resolves the config into models, tokenizer, loss and data, then runs the chosen trainer.
struct TrainingSession {
    let arguments: [String]
    let extraPlugins: [String]
    let installDirectory: String

    static func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    /// A reference of its own scores the policy's tokens: its config.json must give the same vocab_size.
    static func checkSameVocabulary(policy: LanguageModel, reference: LanguageModel) throws {
        if let p = policy.configInteger("vocab_size"), let r = reference.configInteger("vocab_size"), p != r {
            throw ValidationError("model.reference_name_or_path=\(reference.directory): its vocab_size \(r) differs from the "
                                  + "policy's \(p) (\(policy.directory)); the reference must share the policy's tokenizer")
        }
    }

    /// The summary, and whether this process is rank 0 (the one that reports).
    func run() throws -> (TrainingSummary, isRoot: Bool) {
        let setup = try prepare()
        let world = try startWorld(setup.loaded.config)
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
    /// names (`plugins: [...]`) are loaded after it, the command line's `--plugin` last (it wins).
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
        if !loaded.config.plugins.isEmpty {
            for path in loaded.config.plugins + extraPlugins { _ = try registry.load(path: path, origin: .explicit) }
        }
        return Setup(loaded: loaded, environment: environment, registry: registry, pluginWarnings: warnings)
    }

    /// The MPI world for FSDP and tensor parallelism (one per process); BasicTrainer runs alone.
    private func startWorld(_ config: TrainingConfig) throws -> MPIWorld? {
        switch config.trainer {
        case .basic:
            let ranks = Self.launchedRanks
            guard ranks <= 1 else {
                throw ValidationError("BasicTrainer runs in one process, but mpirun started \(ranks); use trainer=FSDPTrainer or trainer=TensorParallelTrainer")
            }
            return nil
        case .fullySharded:
            let world = try MPIWorld(collectiveTimeout: config.collectiveTimeoutSecs > 0 ? config.collectiveTimeoutSecs : nil)
            try FSDPTrainer.validate(config, worldSize: world.communicator.size)
            return world
        case .tensorParallel:
            return try MPIWorld(collectiveTimeout: config.collectiveTimeoutSecs > 0 ? config.collectiveTimeoutSecs : nil)
        }
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
        let (backend, resumeNote) = try ResumedGemmBackend.choose(config.gemmBackend, resume: config.resume)
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
            throw ValidationError("ld_alpha weights a pair's responses past their shared length; an SFT run has no pairs")
        }
        if config.useWeighting && objective.chosenOnly {
            throw ValidationError("use_weighting weighs preference pairs; an SFT run has none")
        }
        if config.lora.enabled {
            guard config.trainer != .tensorParallel else {
                throw ValidationError("lora.r=\(config.lora.r) runs under BasicTrainer or FSDPTrainer; TensorParallelTrainer does not split adapters (train the whole model there)")
            }
            guard !config.syncRefModel else { throw ValidationError("sync_ref_model=true moves the reference toward the policy; with LoRA the reference is the base weights themselves") }
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
        // The reference's weights in reference_dtype, as the reference implementation casts them.
        reference?.castWeights(to: try WeightPrecision(configValue: config.model.referenceDtype))
        if reference == nil && config.syncRefModel {
            throw ValidationError("sync_ref_model=true: no loss of \(config.loss.names.joined(separator: ", ")) reads a reference model")
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
        // Split before the run directory exists: a model that cannot be split fails first.
        let tensorParallel = try config.trainer == .tensorParallel ? communicator.map {
            try TensorParallelTrainer.Models(policy: policy, reference: reference, communicator: $0)
        } : nil
        if config.precomputeRefLogProbs {
            // Cached per-sequence log-probs cannot follow a moving reference nor feed a loss that
            // needs the reference's full distribution (TDPO's per-token KL).
            if config.syncRefModel {
                throw ValidationError("precompute_ref_log_probs=true cannot be combined with sync_ref_model=true (the reference changes during training)")
            }
            if let term = objective.terms.first(where: { $0.computation.plugin.needs.contains(.logits) }) {
                throw ValidationError("precompute_ref_log_probs=true: loss '\(term.name)' needs the reference model's full logits, not cached sequence log-probs")
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
        switch (config.trainer, communicator, tensorParallel) {
        case let (.tensorParallel, _, models?):
            return try TensorParallelTrainer(run: run, models: models, pool: pool, log: log).train()
        case let (.fullySharded, communicator?, _):
            return try FSDPTrainer(run: run, pool: pool, communicator: communicator, log: log).train()
        default:   // BasicTrainer (startWorld made a world for the other two)
            return try BasicTrainer(run: run, pool: pool, log: log).train()
        }
    }
}
