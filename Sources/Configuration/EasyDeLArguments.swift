import Foundation
import HostUtility

/// TRL/EasyDeL-style flags, translated into Hydra-style overrides that mean what TRL 1.16 means
/// (`trlVersion`; EasyDeL's where TRL has no such flag):
///   dpohost train --loss-type ipo --beta 0.1 --dataset-path data.jsonl --model-name-or-path DIR
/// becomes TRL's defaults (`trlDefaults`), then `loss=[ipo] +loss.ipo.length_normalized=true
/// loss.beta=0.1 datasets=[jsonl] dataset_options.jsonl.path=data.jsonl model.name_or_path=DIR`.
/// Hydra-style keys keep the DPO reference's meaning: a command line without these flags is
/// untouched. Everything else (key=value overrides, --config, --config-dir) passes through
/// unchanged, after the translated flags so explicit overrides win.
public enum EasyDeLArguments {
    /// The TRL release whose meanings the flags follow.
    public static let trlVersion = "1.16"

    /// DPOConfig's defaults in TRL 1.16 where they differ from the Hydra-style config's, applied
    /// first whenever a TRL-style flag is given: TRL's tokenization and whole-row truncation,
    /// learning rate 1e-6, AdamW without weight decay, linear decay without warmup, clipping at
    /// 1.0, logging every 10 steps, the reference kept in the policy's dtype.
    /// TRL names no run: `exp_name` is `dpo` unless --exp-name says otherwise. transformers' seed
    /// is 42 and drives the data order too.
    public static let trlDefaults = [
        "tokenization=trl", "max_length=1024", "truncation_mode=keep_start", "lr=1e-6", "optimizer=AdamW",
        "weight_decay=0.0", "lr_scheduler_type=linear", "warmup_steps=0", "max_grad_norm=1.0",
        "logging_steps=10", "model.reference_dtype=float32", "exp_name=dpo", "seed=42", "data_seed=42",
    ]

    /// What a TRL loss type means beyond its dpohost loss: options of that loss alone.
    ///  - sigmoid: TRL 1.16 ignores label_smoothing for it (cDPO is gone from TRL).
    ///  - ipo: each log-ratio divided by its completion length, rewards summed.
    ///  - sigmoid_norm: the same normalisation on the sigmoid loss.
    ///  - sft: the token-mean NLL of the batch's chosen completions.
    ///  - bco_pair: no baseline (d = 0).
    static let trlLossOptions: [String: [String]] = [
        "dpo": ["label_smoothing=0"],
        "ipo": ["length_normalized=true"],
        "sigmoid_norm": ["length_normalized=true", "label_smoothing=0"],
        "sft": ["token_mean=true"],
        "bco_pair": ["delta=zero"],
    ]

    /// TRL's losses that read `label_smoothing` (default 0; exo_pair then refuses, as TRL does).
    static let labelSmoothingLosses: Set<String> = ["robust", "exo_pair", "aot", "aot_pair"]

    /// Flags that take a value, and the overrides each value becomes.
    static let valued: [String: @Sendable (String) -> [String]] = [
        "--loss-weights": { v in ["loss.weights=" + bracketed(v)] },
        "--dataset-path": { ["datasets=[jsonl]", "dataset_options.jsonl.path=" + $0] },
        "--eval-dataset-path": { ["dataset_options.jsonl.test_path=" + $0] },
        // TRL keeps the reference in the policy's dtype (float32 here), where the DPO reference's
        // presets cast it to float16.
        "--model-name-or-path": { ["model.name_or_path=" + $0, "model.reference_dtype=float32"] },
        "--ref-model": { ["model.reference_name_or_path=" + $0] },
        "--learning-rate": { ["lr=" + $0] },
        // Whole epochs are n_epochs; a fraction (0.5) is TRL's num_train_epochs.
        "--num-train-epochs": { v in Int(v) != nil ? ["n_epochs=" + v] : ["num_train_epochs=" + v] },
        "--total-batch-size": { ["batch_size=" + $0] },
        "--per-device-train-batch-size": { ["per_device_train_batch_size=" + $0] },
        "--per-device-eval-batch-size": { ["per_device_eval_batch_size=" + $0] },
        "--eval-batch-size": { ["eval_batch_size=" + $0] },
        "--gradient-accumulation-steps": { ["gradient_accumulation_steps=" + $0] },
        "--max-length": { ["max_length=" + $0] },
        "--truncation-mode": { ["truncation_mode=" + $0] },
        "--ref-model-mixup-alpha": { ["ref_model_mixup_alpha=" + $0] },
        "--ref-model-sync-steps": { ["ref_model_sync_steps=" + $0] },
        // transformers 5 reads a warmup_steps below 1 as a fraction of the run's steps.
        "--warmup-steps": { v in Double(v).map { $0 > 0 && $0 < 1 } == true ? ["warmup_ratio=" + v] : ["warmup_steps=" + v] },
        "--warmup-ratio": { ["warmup_ratio=" + $0] },
        "--lr-scheduler-type": { ["lr_scheduler_type=" + $0] },
        "--max-steps": { ["max_steps=" + $0] },
        "--eval-steps": { ["eval_steps=" + $0] },
        "--logging-steps": { ["logging_steps=" + $0] },
        "--save-steps": { ["save_steps=" + $0] },
        // transformers' data_seed follows seed unless given.
        "--seed": { ["seed=" + $0, "data_seed=" + $0] },
        "--data-seed": { ["data_seed=" + $0] },
        "--output-dir": { ["local_run_dir=" + $0] },
        "--exp-name": { ["exp_name=" + $0] },
        "--optimizer": { ["optimizer=" + $0] },
        "--report-to": { ["report_to=" + bracketed(reportDestinations($0))] },
        "--max-grad-norm": { ["max_grad_norm=" + $0] },
        "--weight-decay": { ["weight_decay=" + $0] },
        "--ld-alpha": { ["ld_alpha=" + $0] },
        // TRL's ModelConfig: --use-peft with r 16, alpha 32, dropout 0.05 unless given.
        "--lora-r": { ["lora.r=" + $0] },
        "--lora-alpha": { ["lora.alpha=" + $0] },
        "--lora-dropout": { ["lora.dropout=" + $0] },
        "--lora-target-modules": { ["lora.target_modules=" + bracketed($0)] },
        "--lora-modules-to-save": { ["lora.modules_to_save=" + bracketed($0)] },
    ]
    static let switches: [String: String] = [
        "--sync-ref-model": "sync_ref_model=true",
        "--precompute-ref-log-probs": "precompute_ref_log_probs=true",
        "--do-first-eval": "do_first_eval=true",
        "--gradient-checkpointing": "activation_checkpointing=true",
        "--use-weighting": "use_weighting=true",
        "--use-rslora": "lora.use_rslora=true",
    ]
    /// TRL and transformers flags dpohost knows and does not offer, each with the reason; given
    /// one, the error says so instead of calling it unknown.
    static let unsupported: [String: String] = [
        "--bf16": "the policy trains in float32 on the CPU (model.reference_dtype=bfloat16 casts the reference)",
        "--fp16": "the policy trains in float32 on the CPU (model.reference_dtype=float16 casts the reference)",
        "--torch-dtype": "the policy trains in float32 on the CPU",
        "--push-to-hub": "dpohost runs without a network",
        "--hub-model-id": "dpohost runs without a network",
        "--dataset-name": "dpohost runs without a network: give a local file with --dataset-path",
        "--max-prompt-length": "TRL 1.16 has no max_prompt_length: --max-length cuts each whole row (the DPO reference's prompt-first rule: max_prompt_length=N without TRL flags)",
        "--max-completion-length": "TRL 1.16 has no max_completion_length: --max-length cuts each whole row (max_completion_length=N without TRL flags)",
        "--optim": "choose with --optimizer (RMSprop, Adam, AdamW, SGD)",
        "--attn-implementation": "dpohost picks its attention kernel by length (DPOHOST_ATTENTION forces one)",
    ]
    /// Flags that set the loss: read first, then turned into the loss's overrides (`lossOverrides`).
    static let lossFlags: Set<String> = ["--loss-type", "--beta", "--label-smoothing", "--discopop-tau", "--rpo-alpha",
                                         "--f-divergence-type", "--f-alpha-divergence-coef"]
    /// The losses built on the chosen-rejected score difference, which take TRL's
    /// f_divergence_type (`FDivergence` in the loss kit); TRL refuses it for the others.
    static let fDivergenceLosses: Set<String> = ["dpo", "cdpo", "rpo", "ipo", "hinge", "robust", "exo_pair", "discopop"]
    /// EasyDeL's (and TRL <= 0.27's) reference_free: the reference log-probs are 0, rewards
    /// included, and no reference model runs (the dpo family's `reference_rewards=false`).
    static let referenceFreeFlag = "--reference-free"

    /// TRL's `--use_peft`: LoRA with TRL ModelConfig's defaults (r 16, alpha 32, dropout 0.05),
    /// which the `--lora-*` flags after it change; those flags alone would be ignored by TRL and
    /// are refused here.
    static let usePEFT = "--use-peft"
    static let peftDefaults = ["lora.r=16", "lora.alpha=32", "lora.dropout=0.05"]

    /// dpohost's own flags: translated, without bringing in TRL's meanings.
    static let own: [String: @Sendable (String) -> [String]] = [
        "--chat-template": { ["chat_template=" + $0] },
    ]

    /// Flags that belong to the Hydra-style command line itself.
    static let passThrough: Set<String> = ["--config", "--config-dir"]

    static func bracketed(_ v: String) -> String { v.hasPrefix("[") ? v : "[" + v + "]" }

    /// TRL's loss_type names that dpohost calls otherwise: `sigmoid` is DPO, `aot_unpaired`
    /// (TRL HEAD) is `aot_pair`.
    /// `sigmoid_norm` is `dpo` with length-normalised log-ratios (`trlLossOptions`).
    /// `kto` and `kto_pair` are EasyDeL's (TRL has neither): its sigmoid loss with label smoothing.
    static let lossAliases = ["sigmoid": "dpo", "aot_unpaired": "aot_pair", "sigmoid_norm": "dpo", "kto": "dpo", "kto_pair": "dpo"]

    /// TRL's `report_to`: names separated by commas or spaces; `none` is metrics.jsonl alone and
    /// `all` every destination dpohost has.
    static func reportDestinations(_ v: String) -> String {
        let names = v.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            .split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        if names == ["all"] { return ReportDestination.allCases.map(\.rawValue).joined(separator: ",") }
        return (["jsonl"] + names.filter { $0 != "none" && $0 != "jsonl" }).joined(separator: ",")
    }

    static func lossTypes(_ v: String) -> [String] {
        v.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The loss overrides of TRL's loss flags: the losses (TRL's default `sigmoid` unless an
    /// override names them), each TRL loss type's meaning (`trlLossOptions`), beta 0.1 and label
    /// smoothing 0 unless given. With `loss=` given as an override, the flags set shared options.
    static func lossOverrides(_ flags: [String: String], lossChosenByOverride: Bool) throws -> [String] {
        guard flags["--loss-type"] != nil || !lossChosenByOverride else {
            return (flags["--beta"].map { ["loss.beta=" + $0] } ?? [])
                + (flags["--label-smoothing"].map { ["loss.label_smoothing=" + $0] } ?? [])
        }
        var types = lossTypes(flags["--loss-type"] ?? "sigmoid")
        if let alpha = flags["--rpo-alpha"] {
            // TRL <= 0.27's rpo_alpha adds RPO's NLL term to the sigmoid loss: dpohost's `rpo`.
            guard let k = types.firstIndex(of: "sigmoid") else {
                throw ConfigError.invalidValue(key: "--rpo-alpha", value: alpha,
                                               reason: "adds RPO's NLL term to the sigmoid loss; name sigmoid in --loss-type, or use --loss-type rpo")
            }
            types[k] = "rpo"
        }
        let names = types.map { lossAliases[$0] ?? $0 }
        if let repeated = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw ConfigError.invalidValue(key: "--loss-type", value: flags["--loss-type"] ?? "",
                                           reason: "names dpohost's loss '\(repeated)' twice (sigmoid, sigmoid_norm and EasyDeL's kto are all dpo); give one")
        }
        var out = ["loss=[" + names.joined(separator: ",") + "]"]
        for (type, name) in zip(types, names) {
            let sigmoidFamily = type == "sigmoid" ? "dpo" : type
            out += (trlLossOptions[sigmoidFamily] ?? []).map { "+loss.\(name).\($0)" }
            if labelSmoothingLosses.contains(name) || type.hasPrefix("kto") {
                out.append("+loss.\(name).label_smoothing=" + (flags["--label-smoothing"] ?? "0"))
            }
        }
        if let alpha = flags["--rpo-alpha"] { out += ["+loss.rpo.alpha=" + alpha, "+loss.rpo.label_smoothing=0"] }
        if let tau = flags["--discopop-tau"], names.contains("discopop") { out.append("+loss.discopop.tau=" + tau) }
        let divergence = flags["--f-divergence-type"] ?? "reverse_kl"
        for name in names where name != "sft" {
            guard fDivergenceLosses.contains(name) else {
                if divergence != "reverse_kl" {
                    throw ConfigError.invalidValue(key: "--f-divergence-type", value: divergence,
                                                   reason: "loss '\(name)' has no f-divergence form (as in TRL); only \(fDivergenceLosses.sorted().joined(separator: ", ")) take one")
                }
                continue
            }
            if let type = flags["--f-divergence-type"] { out.append("+loss.\(name).f_divergence_type=" + type) }
            if let alpha = flags["--f-alpha-divergence-coef"] { out.append("+loss.\(name).f_alpha_divergence_coef=" + alpha) }
        }
        if flags[referenceFreeFlag] == "true" {
            let family: Set<String> = ["dpo", "cdpo", "rpo"]
            if let other = names.first(where: { !family.contains($0) && $0 != "sft" }) {
                throw ConfigError.invalidValue(key: referenceFreeFlag, value: "true",
                                               reason: "applies to the sigmoid loss (dpo, cdpo, rpo), not '\(other)'")
            }
            for n in names where family.contains(n) { out += ["+loss.\(n).reference_free=true", "+loss.\(n).reference_rewards=false"] }
        }
        if names.contains(where: { $0 != "sft" }) { out.append("loss.beta=" + (flags["--beta"] ?? "0.1")) }
        return out
    }

    /// Every flag `translate` accepts (`train --help` lists them all).
    public static var acceptedFlags: [String] {
        (Array(valued.keys) + Array(switches.keys) + Array(lossFlags) + [referenceFreeFlag, usePEFT] + Array(own.keys)).sorted()
    }

    /// The overrides the arguments mean; an unknown `--flag` is an error naming the nearest one.
    public static func translate(_ arguments: [String]) throws -> [String] {
        var translated: [String] = [], rest: [String] = []
        var seen: Set<String> = []
        var loss: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            guard arg.hasPrefix("--") else { rest.append(arg); i += 1; continue }
            let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
            let flag = parts[0].replacingOccurrences(of: "_", with: "-")
            seen.insert(flag)
            if passThrough.contains(flag) {
                rest.append(arg)
                if parts.count == 1, i + 1 < arguments.count { rest.append(arguments[i + 1]); i += 1 }
            } else if flag == usePEFT {
                if parts.count == 1 || parts[1] == "true" { translated = peftDefaults + translated }
            } else if flag == referenceFreeFlag {
                loss[flag] = parts.count == 2 ? parts[1] : "true"
            } else if let override = switches[flag] {
                translated.append(parts.count == 2 ? override.replacingOccurrences(of: "=true", with: "=" + parts[1]) : override)
            } else if valued[flag] != nil || lossFlags.contains(flag) || own[flag] != nil {
                var value: String
                if parts.count == 2 { value = parts[1] } else {
                    guard i + 1 < arguments.count else {
                        throw ConfigError.invalidValue(key: flag, value: "", reason: "needs a value")
                    }
                    value = arguments[i + 1]
                    i += 1
                }
                if let make = own[flag] { rest += make(value) } else if let make = valued[flag] { translated += make(value) } else { loss[flag] = value }
            } else if let reason = unsupported[flag] {
                throw ConfigError.unsupportedFlag(flag: flag, reason: reason)
            } else {
                let known = acceptedFlags + Array(passThrough)
                throw ConfigError.unknownKey(key: flag, suggestion: KeySuggester.nearest(to: flag, among: known))
            }
            i += 1
        }
        // TRL trains a dataset without an eval set and does not evaluate: --dataset-path alone
        // (no --eval-dataset-path or test_path) turns evaluation off unless an override sets it.
        if seen.contains("--dataset-path") && !seen.contains("--eval-dataset-path")
            && !rest.contains(where: { $0.hasPrefix("dataset_options.jsonl.test_path=") }) {
            translated.append("n_eval_examples=0")
        }
        guard !seen.subtracting(passThrough).subtracting(own.keys).isEmpty else { return rest }
        if let lone = seen.sorted().first(where: { $0.hasPrefix("--lora-") || $0 == "--use-rslora" }), !seen.contains(usePEFT) {
            throw ConfigError.invalidValue(key: lone, value: "", reason: "takes effect with --use-peft, as in TRL (add --use-peft)")
        }
        let lossChosen = rest.contains { $0.hasPrefix("loss=") || $0.hasPrefix("loss.name=") }
        return trlDefaults + (try lossOverrides(loss, lossChosenByOverride: lossChosen)) + translated + rest
    }
}
