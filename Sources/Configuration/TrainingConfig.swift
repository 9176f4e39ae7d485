import DataPipeline
import TensorCore
import Foundation

/// The model group (`config/model/*.yaml`).
public struct ModelConfig: Sendable, Equatable {
    /// Local model directory (or the reference's hub id). Relative paths are relative to the
    /// current directory.
    public var nameOrPath: String
    /// nil: the tokenizer lives with the model.
    public var tokenizerNameOrPath: String?
    /// Policy weights loaded over the pretrained ones (e.g. an SFT run's LATEST checkpoint).
    public var archive: String?
    /// The frozen reference's own checkpoint; nil: the reference starts as the policy does.
    public var referenceNameOrPath: String?
    /// Transformer block class name (FSDP units, activation checkpointing).
    public var blockName: String?
    public var policyDtype: String
    public var fsdpPolicyMp: String?
    public var referenceDtype: String

    init(_ r: TypedReader) throws {
        nameOrPath = try r.string("name_or_path")
        tokenizerNameOrPath = try r.optionalString("tokenizer_name_or_path")
        archive = try r.optionalString("archive")
        referenceNameOrPath = try r.optionalString("reference_name_or_path")
        blockName = try r.optionalString("block_name")
        // The policy trains in float32 (the kernels compute in float32; the reference presets say
        // float32 too): another value would be parsed and ignored, so it is refused.
        policyDtype = try r.oneOf("policy_dtype", [("float32", "float32")])
        fsdpPolicyMp = try r.optionalString("fsdp_policy_mp")
        referenceDtype = try r.string("reference_dtype")
    }
}

/// The loss group (`config/loss/*.yaml`): its name and every other key as an option, so a loss
/// plugin can declare options the host does not know. The options the built-in losses use are
/// type-checked when the config is read and offered as properties.
public struct LossConfig: Sendable, Equatable {
    /// The (first) loss; `loss=[dpo,sft]` names several, see `names` and `weights`.
    public var name: String
    /// Every loss of a combined objective, in order (one entry for a single loss).
    public var names: [String]
    /// Weight of each loss in `names`: total = sum_k weights[k] * mean loss_k (TRL's loss_weights).
    public var weights: [Double]
    /// Every key of the loss section except `name`, `weights` and the per-loss sections, shared
    /// by the losses. Untyped: each loss plugin types and checks its own options.
    public var options: [String: ConfigValue]
    /// Options of one loss of the list only, under its name (`loss.ipo.average_log_prob=true`);
    /// they win over the shared ones for that loss.
    public var perLoss: [String: [String: ConfigValue]]

    init(_ r: TypedReader) throws {
        if let list = r.node["name"]?.listValue {
            names = try list.map { v in
                guard case let .string(s) = v else {
                    throw ConfigError.typeMismatch(key: "loss.name", expected: "a loss name or a list of names", value: v.displayText)
                }
                return s
            }
        } else {
            names = [try r.string("name")]
        }
        name = names[0]
        if let list = r.node["weights"]?.listValue {
            weights = try list.map { v in
                switch v {
                case let .double(d): return d
                case let .int(i): return Double(i)
                default: throw ConfigError.typeMismatch(key: "loss.weights", expected: "a list of numbers", value: v.displayText)
                }
            }
        } else {
            weights = names.map { _ in 1 }
        }
        guard weights.count == names.count else {
            throw ConfigError.invalidValue(key: "loss.weights", value: "\(weights)",
                                           reason: "needs one weight per loss in loss.name \(names)")
        }
        var options: [String: ConfigValue] = [:]
        var perLoss: [String: [String: ConfigValue]] = [:]
        for (key, value) in r.node.entries where key != "name" && key != "weights" {
            if names.contains(key), let section = value.mappingValue {
                perLoss[key] = Dictionary(section.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            } else {
                options[key] = value
            }
        }
        self.options = options
        self.perLoss = perLoss
    }
}

/// `wandb.*`: accepted so reference command lines parse; dpohost logs locally only.
public struct WandbConfig: Sendable, Equatable {
    public var enabled: Bool
    public var entity: String?
    public var project: String

    init(_ r: TypedReader) throws {
        enabled = try r.bool("enabled")
        entity = try r.optionalString("entity")
        project = try r.string("project")
    }
}

/// `trainer`: how a run spreads over processes (docs/recipes.md, "Adding a trainer strategy").
public enum TrainerStrategy: String, CaseIterable, Sendable {
    /// One process.
    case basic = "BasicTrainer"
    /// Ranks of mpirun, each with a slice of the batch and of the parameters (docs/multi-host.md).
    case fullySharded = "FSDPTrainer"
    /// Ranks of mpirun, each with a slice of every split linear.
    case tensorParallel = "TensorParallelTrainer"

    /// Whether the run needs an MPI world.
    public var isDistributed: Bool { self != .basic }
}

/// Every top-level key of `config/config.yaml`, typed, after composition and resolution.
public struct TrainingConfig: Sendable, Equatable {
    public var seed: Int
    /// Seed of the data order's shuffles (`BatchIteratorOptions.seed`).
    public var dataSeed: Int
    public var expName: String
    public var batchSize: Int
    public var evalBatchSize: Int
    public var debug: Bool
    public var fsdpPort: Int?
    public var datasets: [String]
    public var wandb: WandbConfig
    /// LoRA adapters instead of the whole model (`lora.r` > 0).
    public var lora: LoRASettings
    public var localDirs: [String]
    public var sampleDuringEval: Bool
    public var nEvalModelSamples: Int
    public var doFirstEval: Bool
    /// The resolved run directory (relative paths are relative to the current directory).
    public var localRunDir: String
    public var lr: Double
    public var gradientAccumulationSteps: Int
    public var maxGradNorm: Double
    public var maxLength: Int
    public var maxPromptLength: Int
    public var nEpochs: Int?
    public var nExamples: Int?
    public var nEvalExamples: Int
    public var trainer: TrainerStrategy
    public var optimizer: String
    /// Adam's or AdamW's weight decay; nil = the library default (AdamW 0.01, Adam none).
    public var weightDecay: Double?
    public var warmupSteps: Int
    public var lrSchedulerType: LearningRateScheduleKind
    /// TRL's step counts (optimizer updates): max_steps ends the run (n_examples becomes
    /// max_steps × batch_size, epochs cycling); eval_steps sets eval_every; logging_steps logs
    /// every that many updates; save_steps checkpoints every that many instead of at each eval.
    public var maxSteps: Int?
    /// TRL's num_train_epochs when not whole (0.5): the run trains that fraction of the passes.
    public var numTrainEpochs: Double?
    public var evalSteps: Int?
    public var loggingSteps: Int?
    public var saveSteps: Int?
    /// When set, the warmup is this fraction of the run's optimizer steps (`warmup_steps` unused).
    public var warmupRatio: Double?
    /// `cosine_with_min_lr`'s floor, a fraction of `lr`.
    public var minLRRate: Double
    public var activationCheckpointing: Bool
    /// Already rounded down to a multiple of `batchSize`.
    public var evalEvery: Int
    public var minimumLogIntervalSecs: Double
    public var model: ModelConfig
    public var loss: LossConfig

    // dpohost additions
    public var resume: String?
    public var threads: Int?
    /// The matrix-product library (`Gemm.use`): auto, openblas or onednn.
    public var gemmBackend: GemmBackendChoice
    public var plugins: [String]
    /// How `ProgressDisplay` shows progress: auto, bar, lines or off.
    public var progress: ProgressMode
    public var maxCompletionLength: Int?
    public var truncationMode: TruncationMode?
    public var tokenization: TokenizationConvention
    /// A chat template file for conversational data (nil: the tokenizer's own).
    public var chatTemplate: String?
    public var syncRefModel: Bool
    public var refModelMixupAlpha: Double
    public var refModelSyncSteps: Int
    public var precomputeRefLogProbs: Bool
    /// LD-DPO's alpha in [0, 1] (`LengthDesensitization`); nil = plain sums.
    public var ldAlpha: Double?
    /// WPO's pair weights (`PairWeighting`).
    public var useWeighting: Bool
    /// Where precompute_ref_log_probs keeps its cache (nil: the run directory).
    public var referenceLogpsCache: String?
    /// Run a preference pair's shared prompt once (`ModelLoss.sharesPrompts`).
    public var sharePrompt: Bool
    /// Seconds one collective (FSDP) may wait for the other ranks before the job is aborted.
    public var collectiveTimeoutSecs: Double
    /// FSDP runs its unit collectives behind compute (`FullyShardedParameters.overlap`).
    public var fsdpOverlap: Bool
    /// Where metrics go; metrics.jsonl is always written (`RunLogs`).
    public var reportTo: [ReportDestination]

    /// Options of each dataset plugin by dataset name (`dataset_options.hh.data_dir=...`), as text.
    public var datasetOptions: [String: [String: String]]

    /// Top-level keys added with `+key=value` that the host does not know (for plugins).
    public var extras: [String: ConfigValue]

    static let knownKeys: Set<String> = [
        "seed", "data_seed", "lora", "exp_name", "batch_size", "eval_batch_size", "debug", "fsdp_port", "datasets", "wandb",
        "local_dirs", "sample_during_eval", "n_eval_model_samples", "do_first_eval", "local_run_dir", "lr",
        "gradient_accumulation_steps", "max_grad_norm", "max_length", "max_prompt_length", "n_epochs",
        "n_examples", "n_eval_examples", "trainer", "optimizer", "weight_decay", "warmup_steps", "activation_checkpointing",
        "lr_scheduler_type", "warmup_ratio", "min_lr_rate", "max_steps", "eval_steps", "logging_steps", "save_steps",
        "per_device_train_batch_size", "per_device_eval_batch_size", "num_train_epochs",
        "eval_every", "minimum_log_interval_secs", "model", "loss", "resume", "threads", "gemm_backend", "plugins", "progress",
        "max_completion_length", "truncation_mode", "tokenization", "chat_template", "sync_ref_model", "ref_model_mixup_alpha",
        "ref_model_sync_steps", "precompute_ref_log_probs", "reference_logps_cache", "ld_alpha", "use_weighting", "share_prompt", "dataset_options", "collective_timeout_secs",
        "fsdp_overlap", "report_to",
    ]

    /// Reads a fully resolved tree (no `???`, no `${...}`).
    public init(tree: ConfigValue, worldSize: Int = 1) throws {
        guard case let .mapping(root) = tree else {
            throw ConfigError.typeMismatch(key: "<root>", expected: "a mapping", value: tree.displayText)
        }
        let r = TypedReader(node: root, prefix: "")
        seed = try r.int("seed")
        dataSeed = try r.int("data_seed", atLeast: 0)
        guard dataSeed <= Int(UInt32.max) else {
            throw ConfigError.invalidValue(key: "data_seed", value: String(dataSeed), reason: "must be below 2^32 (numpy's seed range)")
        }
        expName = try r.string("exp_name")
        batchSize = try r.positive("batch_size")
        evalBatchSize = try r.positive("eval_batch_size")
        // TRL's per-device sizes: a step is per_device x accumulation x processes.
        if let perDevice = try r.optionalInt("per_device_train_batch_size", atLeast: 1) {
            batchSize = try Self.product("per_device_train_batch_size", perDevice, [try r.positive("gradient_accumulation_steps"), worldSize],
                                         of: "gradient_accumulation_steps and the processes")
        }
        if let perDevice = try r.optionalInt("per_device_eval_batch_size", atLeast: 1) {
            evalBatchSize = try Self.product("per_device_eval_batch_size", perDevice, [worldSize], of: "the processes")
        }
        debug = try r.bool("debug")
        fsdpPort = try r.optionalInt("fsdp_port")
        datasets = try r.stringList("datasets")
        wandb = try WandbConfig(r.section("wandb"))
        let l = try r.section("lora")
        lora = LoRASettings(r: try l.int("r", atLeast: 0), alpha: try l.double("alpha"), dropout: try l.double("dropout"),
                            targetModules: l.node["target_modules"] == nil || l.node["target_modules"] == .null ? nil : try l.stringList("target_modules"),
                            useRSLoRA: try l.bool("use_rslora"), modulesToSave: try l.stringList("modules_to_save"))
        localDirs = try r.stringList("local_dirs")
        sampleDuringEval = try r.bool("sample_during_eval")
        nEvalModelSamples = try r.int("n_eval_model_samples", atLeast: 0)
        doFirstEval = try r.bool("do_first_eval")
        localRunDir = try r.string("local_run_dir")
        lr = try r.finite("lr", in: 0...Double.greatestFiniteMagnitude)
        gradientAccumulationSteps = try r.positive("gradient_accumulation_steps")
        maxGradNorm = try r.finite("max_grad_norm", in: 0...Double.greatestFiniteMagnitude, above: true)
        maxLength = try r.positive("max_length")
        maxPromptLength = try r.int("max_prompt_length", atLeast: 1)
        nEpochs = try r.optionalInt("n_epochs", atLeast: 1)
        nExamples = try r.optionalInt("n_examples", atLeast: 1)
        nEvalExamples = try r.int("n_eval_examples", atLeast: 0)
        trainer = try r.oneOf("trainer", TrainerStrategy.allCases.map { ($0.rawValue, $0) })
        optimizer = try r.string("optimizer")
        weightDecay = try r.optionalFinite("weight_decay", in: 0...1e6)
        warmupSteps = try r.int("warmup_steps", atLeast: 0)
        lrSchedulerType = try r.oneOf("lr_scheduler_type", LearningRateScheduleKind.allCases.map { ($0.rawValue, $0) })
        warmupRatio = try r.optionalFinite("warmup_ratio", in: 0...1)
        minLRRate = try r.finite("min_lr_rate", in: 0...1)
        maxSteps = try r.optionalInt("max_steps", atLeast: 1)
        numTrainEpochs = try r.optionalFinite("num_train_epochs", in: 0...1e9, above: true)
        evalSteps = try r.optionalInt("eval_steps", atLeast: 1)
        loggingSteps = try r.optionalInt("logging_steps", atLeast: 1)
        saveSteps = try r.optionalInt("save_steps", atLeast: 1)
        activationCheckpointing = try r.bool("activation_checkpointing")
        evalEvery = try r.positive("eval_every")
        minimumLogIntervalSecs = try r.finite("minimum_log_interval_secs", in: 0...Double.greatestFiniteMagnitude)
        model = try ModelConfig(r.section("model"))
        loss = try LossConfig(r.section("loss"))

        resume = try r.optionalString("resume")
        threads = try r.optionalInt("threads", atLeast: 1)
        gemmBackend = try r.oneOf("gemm_backend", GemmBackendChoice.allCases.map { ($0.rawValue, $0) })
        plugins = try r.stringList("plugins")
        progress = try Self.progressMode(r)
        maxCompletionLength = try r.optionalInt("max_completion_length", atLeast: 1)
        truncationMode = try root["truncation_mode"] == .null ? nil
            : r.oneOf("truncation_mode", [("keep_start", .keepStart), ("keep_end", .keepEnd)])
        tokenization = try r.oneOf("tokenization", TokenizationConvention.allCases.map { ($0.rawValue, $0) })
        chatTemplate = try r.optionalString("chat_template")
        syncRefModel = try r.bool("sync_ref_model")
        refModelMixupAlpha = try r.finite("ref_model_mixup_alpha", in: 0...1)
        refModelSyncSteps = try r.positive("ref_model_sync_steps")
        precomputeRefLogProbs = try r.bool("precompute_ref_log_probs")
        ldAlpha = try r.optionalFinite("ld_alpha", in: 0...1)
        useWeighting = try r.bool("use_weighting")
        referenceLogpsCache = try r.optionalString("reference_logps_cache")
        sharePrompt = try r.bool("share_prompt")
        // 0 turns the watchdog off (config.yaml).
        collectiveTimeoutSecs = try r.finite("collective_timeout_secs", in: 0...Double.greatestFiniteMagnitude)
        fsdpOverlap = try r.bool("fsdp_overlap")
        reportTo = try r.stringList("report_to").map { name in
            guard let destination = ReportDestination(rawValue: name) else {
                throw ConfigError.invalidValue(key: "report_to", value: name, reason: "expected "
                    + ReportDestination.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return destination
        }
        var datasetOptions: [String: [String: String]] = [:]
        if let node = root["dataset_options"], node != .null {
            guard let mapping = node.mappingValue else {
                throw ConfigError.typeMismatch(key: "dataset_options", expected: "a mapping of dataset name to options", value: node.displayText)
            }
            for (name, options) in mapping.entries {
                guard let opts = options.mappingValue else {
                    if options == .null { datasetOptions[name] = [:]; continue }
                    throw ConfigError.typeMismatch(key: "dataset_options.\(name)", expected: "a mapping of option to value", value: options.displayText)
                }
                datasetOptions[name] = opts.entries.reduce(into: [:]) { $0[$1.key] = $1.value.displayText }
            }
        }
        self.datasetOptions = datasetOptions

        var extras: [String: ConfigValue] = [:]
        for (key, value) in root.entries where !Self.knownKeys.contains(key) { extras[key] = value }
        self.extras = extras

        if numTrainEpochs != nil { nEpochs = nil }  // the budget replaces whole epochs (RunLength)
        if let maxSteps {
            nExamples = try Self.product("max_steps", maxSteps, [batchSize], of: "batch_size")
            nEpochs = nil
            numTrainEpochs = nil  // max_steps wins, as in TRL
        }
        if let evalSteps { evalEvery = try Self.product("eval_steps", evalSteps, [batchSize], of: "batch_size") }
        if nEpochs == nil && nExamples == nil && numTrainEpochs == nil {
            throw ConfigError.invalidValue(key: "n_epochs", value: "null", reason: "n_epochs or n_examples must be set")
        }
        try checkRelations()
    }

    /// `value` of `key` times `factors` (`of` names them), refused past what an Int holds: TRL's
    /// counts of updates and per-device sizes become examples and whole steps this way.
    private static func product(_ key: String, _ value: Int, _ factors: [Int], of what: String) throws -> Int {
        try factors.reduce(value) { total, factor in
            let (result, overflow) = total.multipliedReportingOverflow(by: factor)
            guard !overflow else {
                throw ConfigError.invalidValue(key: key, value: String(value), reason: "times \(what) is past what an Int holds")
            }
            return result
        }
    }

    /// The options whose valid values depend on one another (`train --help`, "Ranges").
    private func checkRelations() throws {
        if tokenization == .reference, maxPromptLength >= maxLength {
            throw ConfigError.invalidValue(key: "max_prompt_length", value: String(maxPromptLength),
                                           reason: "must be below max_length (\(maxLength)), or every response is cut to nothing")
        }
        if tokenization == .trl, let n = maxCompletionLength {
            throw ConfigError.invalidValue(key: "max_completion_length", value: String(n),
                                           reason: "applies to tokenization=reference; tokenization=trl cuts each whole row to max_length, as TRL 1.16 does")
        }
        if batchSize % gradientAccumulationSteps != 0 {
            throw ConfigError.invalidValue(key: "batch_size", value: String(batchSize),
                                           reason: "must be a multiple of gradient_accumulation_steps (\(gradientAccumulationSteps)), or the remainder of every batch is never trained on")
        }
        if let threads, threads > Self.maximumThreads {
            throw ConfigError.invalidValue(key: "threads", value: String(threads),
                                           reason: "must be at most \(Self.maximumThreads) (4 per core of this machine)")
        }
    }

    /// More workers than this only add switching: 4 per core.
    public static var maximumThreads: Int { 4 * max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// `progress` also takes true/false (YAML booleans) for bar/off.
    private static func progressMode(_ r: TypedReader) throws -> ProgressMode {
        if case let .bool(b)? = r.node["progress"] { return b ? .bar : .off }
        return try r.oneOf("progress", [("auto", .auto), ("bar", .bar), ("lines", .lines), ("off", .off)])
    }
}
