import Foundation

/// EasyDeL/TRL-style flags as a thin alias over the Hydra-style overrides, so users of those
/// trainers can start from what they know:
///   dpohost train --loss-type ipo --beta 0.1 --dataset-path data.jsonl --model-name-or-path DIR
/// becomes `loss=ipo loss.beta=0.1 datasets=[jsonl] dataset_options.jsonl.path=data.jsonl
/// model.name_or_path=DIR`. Everything else (key=value overrides, --config, --config-dir) passes
/// through unchanged, after the translated flags so explicit overrides win.
public enum EasyDeLArguments {
    /// Flags that take a value, and the overrides each value becomes.
    static let valued: [String: @Sendable (String) -> [String]] = [
        "--loss-type": { v in ["loss=" + bracketed(lossNames(v))] },
        "--loss-weights": { v in ["loss.weights=" + bracketed(v)] },
        "--beta": { ["loss.beta=" + $0] },
        "--label-smoothing": { ["loss.label_smoothing=" + $0] },
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
        "--max-prompt-length": { ["max_prompt_length=" + $0] },
        "--max-completion-length": { ["max_completion_length=" + $0] },
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
        "--seed": { ["seed=" + $0] },
        "--output-dir": { ["local_run_dir=" + $0] },
        "--exp-name": { ["exp_name=" + $0] },
        "--optimizer": { ["optimizer=" + $0] },
        "--report-to": { ["report_to=" + bracketed(reportDestinations($0))] },
        "--max-grad-norm": { ["max_grad_norm=" + $0] },
    ]
    static let switches: [String: String] = [
        "--reference-free": "loss.reference_free=true",
        "--sync-ref-model": "sync_ref_model=true",
        "--precompute-ref-log-probs": "precompute_ref_log_probs=true",
        "--do-first-eval": "do_first_eval=true",
        "--gradient-checkpointing": "activation_checkpointing=true",
    ]
    /// TRL and transformers flags dpohost knows and does not offer, each with the reason; given
    /// one, the error says so instead of calling it unknown.
    static let unsupported: [String: String] = [
        "--bf16": "the policy trains in float32 on the CPU (model.reference_dtype=bfloat16 casts the reference)",
        "--fp16": "the policy trains in float32 on the CPU (model.reference_dtype=float16 casts the reference)",
        "--torch-dtype": "the policy trains in float32 on the CPU",
        "--use-peft": "LoRA adapters are not available yet",
        "--lora-r": "LoRA adapters are not available yet",
        "--lora-alpha": "LoRA adapters are not available yet",
        "--lora-dropout": "LoRA adapters are not available yet",
        "--lora-target-modules": "LoRA adapters are not available yet",
        "--push-to-hub": "dpohost runs without a network",
        "--hub-model-id": "dpohost runs without a network",
        "--dataset-name": "dpohost runs without a network: give a local file with --dataset-path",
        "--weight-decay": "the optimizers run with their library defaults (optimizer=AdamW for decoupled decay)",
        "--optim": "choose with --optimizer (RMSprop, Adam, AdamW, SGD)",
        "--attn-implementation": "dpohost picks its attention kernel by length (DPOHOST_ATTENTION forces one)",
    ]
    /// Flags that belong to the Hydra-style command line itself.
    static let passThrough: Set<String> = ["--config", "--config-dir"]

    static func bracketed(_ v: String) -> String { v.hasPrefix("[") ? v : "[" + v + "]" }

    /// TRL's loss_type names that dpohost calls otherwise: `sigmoid` is DPO, `aot_unpaired`
    /// (TRL HEAD) is `aot_pair`.
    static let lossAliases = ["sigmoid": "dpo", "aot_unpaired": "aot_pair"]

    /// TRL's `report_to`: names separated by commas or spaces; `none` is metrics.jsonl alone and
    /// `all` every destination dpohost has.
    static func reportDestinations(_ v: String) -> String {
        let names = v.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            .split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        if names == ["all"] { return ReportDestination.allCases.map(\.rawValue).joined(separator: ",") }
        return (["jsonl"] + names.filter { $0 != "none" && $0 != "jsonl" }).joined(separator: ",")
    }

    static func lossNames(_ v: String) -> String {
        v.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
            .map { name in let n = name.trimmingCharacters(in: .whitespaces); return lossAliases[n] ?? n }
            .joined(separator: ",")
    }

    /// The overrides the arguments mean; an unknown `--flag` is an error naming the nearest one.
    public static func translate(_ arguments: [String]) throws -> [String] {
        var translated: [String] = [], rest: [String] = []
        var seen: Set<String> = []
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
            } else if let override = switches[flag] {
                translated.append(parts.count == 2 ? override.replacingOccurrences(of: "=true", with: "=" + parts[1]) : override)
            } else if let make = valued[flag] {
                var value: String
                if parts.count == 2 { value = parts[1] } else {
                    guard i + 1 < arguments.count else {
                        throw ConfigError.invalidValue(key: flag, value: "", reason: "needs a value")
                    }
                    value = arguments[i + 1]
                    i += 1
                }
                translated += make(value)
            } else if let reason = unsupported[flag] {
                throw ConfigError.unsupportedFlag(flag: flag, reason: reason)
            } else {
                let known = Array(valued.keys) + Array(switches.keys) + Array(passThrough)
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
        return translated + rest
    }
}
