import ArgumentParser
import Foundation
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
