#!/usr/bin/env python3
"""Golden numbers for DPO parity, produced by TRL's own code (TRL 1.16.0, transformers 5.24).

Run with the venv that has torch/transformers/trl installed, e.g.

    HF_HUB_OFFLINE=1 python3 Tests/TrainerTests/TRLGolden/make_trl_golden.py  (torch, transformers, trl 1.16 importable)

Writes `trl_golden.json` next to this script. Everything runs on CPU in float32, offline, single-threaded, with
dropout disabled (TRL's `disable_dropout=True` default), so the numbers are deterministic.

Sections of the output:

* "tokenized": for each fixture tokenizer (gpt2-tiny, pythia-tiny, llama-tiny) and each truncation mode
  (keep_start, keep_end) at max_length 48, a real `DPOTrainer` is constructed (policy and reference loaded from the
  matching fixture model directory) and `trainer.train_dataset` (the output of TRL's `_prepare_dataset`: EOS
  appended as text, tokenized, prompt/completion split at the common prefix, rows whose prompt fills max_length
  dropped under keep_start) is read back, then `trainer.data_collator` (TRL's `DataCollatorForPreference`) is run on
  all kept rows as one batch. Padding is stripped with the attention mask.
* "losses": for each loss setting, the first logged training step of a real `DPOTrainer.train()` run
  (pythia-tiny policy, pythia-tiny-ref reference, batch = every kept row, max_steps=1).
* "sigmoid_reference_logps": per-row policy/reference summed completion log-probs for the collated keep_start batch,
  computed here independently (full logits + log_softmax, not TRL's fused LM head) so a mismatch can be localized.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("WANDB_DISABLED", "true")

import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

import accelerate  # noqa: E402
import datasets  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from trl import DPOConfig, DPOTrainer  # noqa: E402

datasets.disable_progress_bars()
datasets.disable_caching()
transformers.utils.logging.disable_progress_bar()

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
MODELS = REPO / "Tests" / "Fixtures" / "models"
ROWS_PATH = HERE / "rows.jsonl"
OUT_PATH = HERE / "trl_golden.json"

MAX_LENGTH = 48
TOKENIZER_MODELS = ["gpt2-tiny", "pythia-tiny", "llama-tiny"]
TRUNCATION_MODES = ["keep_start", "keep_end"]
POLICY = "pythia-tiny"
REFERENCE = "pythia-tiny-ref"


# --------------------------------------------------------------------------------------------------------------------
# Capture what TRL/transformers print (logger warnings and Python warnings), so surprises end up in the JSON.
# --------------------------------------------------------------------------------------------------------------------
class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        try:
            self.records.append(f"[{record.name}] {record.getMessage()}")
        except Exception:  # pragma: no cover
            pass


_log_handler = _ListHandler()
for _name in ("trl", "transformers", "accelerate", "datasets"):
    logging.getLogger(_name).addHandler(_log_handler)
    logging.getLogger(_name).setLevel(logging.WARNING)


class _Capture:
    """Collects logger warnings and Python warnings emitted inside the block."""

    def __enter__(self):
        self._start = len(_log_handler.records)
        self._wctx = warnings.catch_warnings(record=True)
        self._wlist = self._wctx.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._wctx.__exit__(*exc)
        self.messages = list(_log_handler.records[self._start :])
        seen = set()
        for w in self._wlist:
            msg = f"[{w.category.__name__}] {w.message}"
            if msg not in seen:
                seen.add(msg)
                self.messages.append(msg)
        return False


def load_rows():
    with open(ROWS_PATH) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_model(name):
    model = AutoModelForCausalLM.from_pretrained(str(MODELS / name), dtype=torch.float32)
    model.to("cpu")
    return model


def load_tokenizer(name):
    return AutoTokenizer.from_pretrained(str(MODELS / name))


def make_config(output_dir, **overrides):
    kwargs = dict(
        output_dir=output_dir,
        max_length=MAX_LENGTH,
        bf16=False,
        fp16=False,
        use_cpu=True,
        gradient_checkpointing=False,
        report_to=[],
        seed=42,
        save_strategy="no",
        dataloader_num_workers=0,
    )
    kwargs.update(overrides)
    return DPOConfig(**kwargs)


def match_row_index(rows, example, eos_token):
    """Index in rows.jsonl of a prepared example (prompts are unique; chosen has EOS appended by TRL)."""
    for i, row in enumerate(rows):
        chosen = row["chosen"] if row["chosen"].endswith(eos_token) else row["chosen"] + eos_token
        if row["prompt"] == example["prompt"] and chosen == example["chosen"]:
            return i
    raise RuntimeError("prepared example does not match any input row")


# --------------------------------------------------------------------------------------------------------------------
# a. tokenized
# --------------------------------------------------------------------------------------------------------------------
def tokenized_section(rows):
    out = {}
    for model_name in TOKENIZER_MODELS:
        out[model_name] = {}
        for mode in TRUNCATION_MODES:
            tokenizer = load_tokenizer(model_name)
            pad_token_before = tokenizer.pad_token
            policy = load_model(model_name)
            ref = load_model(model_name)
            with tempfile.TemporaryDirectory() as tmp, _Capture() as cap:
                args = make_config(tmp, truncation_mode=mode, per_device_train_batch_size=len(rows))
                trainer = DPOTrainer(
                    model=policy,
                    ref_model=ref,
                    args=args,
                    train_dataset=Dataset.from_list(rows),
                    processing_class=tokenizer,
                )
                prepared = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
                kept = []
                for ex in prepared:
                    kept.append(
                        {
                            "row_index": match_row_index(rows, ex, tokenizer.eos_token),
                            "prompt_ids": list(ex["prompt_ids"]),
                            "chosen_ids": list(ex["chosen_ids"]),
                            "rejected_ids": list(ex["rejected_ids"]),
                        }
                    )
                collated = trainer.data_collator(
                    [{k: ex[k] for k in ("prompt_ids", "chosen_ids", "rejected_ids")} for ex in prepared]
                )
                n = len(prepared)
                ids = collated["input_ids"]
                am = collated["attention_mask"]
                cm = collated["completion_mask"]
                for j in range(n):
                    for side, r in (("chosen", j), ("rejected", n + j)):
                        length = int(am[r].sum().item())
                        # the collator pads on the right, so the real tokens are the first `length`
                        assert bool((am[r, :length] == 1).all()) and bool((am[r, length:] == 0).all())
                        kept[j][f"collated_{side}_input_ids"] = ids[r, :length].tolist()
                        kept[j][f"collated_{side}_completion_mask"] = cm[r, :length].tolist()
                kept_indices = [k["row_index"] for k in kept]
                out[model_name][mode] = {
                    "truncation_mode": mode,
                    "max_length": MAX_LENGTH,
                    "model_dir": model_name,
                    "tokenizer_class": type(tokenizer).__name__,
                    "pad_token_in_tokenizer_config": pad_token_before,
                    "pad_token": tokenizer.pad_token,
                    "pad_token_id": tokenizer.pad_token_id,
                    "eos_token": tokenizer.eos_token,
                    "eos_token_id": tokenizer.eos_token_id,
                    "bos_token": tokenizer.bos_token,
                    "bos_token_id": tokenizer.bos_token_id,
                    "collator_pad_token_id": trainer.data_collator.pad_token_id,
                    "collated_batch_shape": list(ids.shape),
                    "num_rows_in": len(rows),
                    "num_rows_kept": n,
                    "kept_row_indices": kept_indices,
                    "dropped_row_indices": [i for i in range(len(rows)) if i not in kept_indices],
                    "rows": kept,
                }
                del trainer
            out[model_name][mode]["trl_messages"] = cap.messages
    return out


# --------------------------------------------------------------------------------------------------------------------
# b. losses
# --------------------------------------------------------------------------------------------------------------------
LOSS_SETTINGS = [
    ("sigmoid", dict(loss_type=["sigmoid"])),
    ("hinge", dict(loss_type=["hinge"])),
    ("ipo", dict(loss_type=["ipo"])),
    ("exo_pair", dict(loss_type=["exo_pair"], label_smoothing=1e-3)),
    ("nca_pair", dict(loss_type=["nca_pair"])),
    ("robust", dict(loss_type=["robust"], label_smoothing=0.1)),
    ("bco_pair", dict(loss_type=["bco_pair"])),
    ("sppo_hard", dict(loss_type=["sppo_hard"])),
    ("aot", dict(loss_type=["aot"])),
    ("aot_unpaired", dict(loss_type=["aot_unpaired"])),
    ("apo_zero", dict(loss_type=["apo_zero"])),
    ("apo_down", dict(loss_type=["apo_down"])),
    ("discopop", dict(loss_type=["discopop"])),
    ("sft", dict(loss_type=["sft"])),
    ("sigmoid_norm", dict(loss_type=["sigmoid_norm"])),
    ("sigmoid+sft", dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.5])),
    ("sigmoid_label_smoothing_0.2", dict(loss_type=["sigmoid"], label_smoothing=0.2)),
    ("sigmoid_forward_kl", dict(loss_type=["sigmoid"], f_divergence_type="forward_kl")),
    ("sigmoid_js_divergence", dict(loss_type=["sigmoid"], f_divergence_type="js_divergence")),
    (
        "sigmoid_alpha_divergence_0.5",
        dict(loss_type=["sigmoid"], f_divergence_type="alpha_divergence", f_alpha_divergence_coef=0.5),
    ),
    ("sigmoid_ld_alpha_0.5", dict(loss_type=["sigmoid"], ld_alpha=0.5)),
    ("sigmoid_use_weighting", dict(loss_type=["sigmoid"], use_weighting=True)),
    ("discopop_tau_0.2", dict(loss_type=["discopop"], discopop_tau=0.2)),
    ("exo_pair_zero_label_smoothing", dict(loss_type=["exo_pair"], label_smoothing=0.0)),
]


def run_loss_setting(rows, batch_size, name, overrides):
    entry = {"name": name, "settings": {k: v for k, v in overrides.items()}}
    tokenizer = load_tokenizer(POLICY)
    policy = load_model(POLICY)
    ref = load_model(REFERENCE)
    with tempfile.TemporaryDirectory() as tmp, _Capture() as cap:
        try:
            args = make_config(
                tmp,
                per_device_train_batch_size=batch_size,
                max_steps=1,
                logging_steps=1,
                learning_rate=1e-3,
                beta=0.1,
                lr_scheduler_type="constant",
                **overrides,
            )
            entry["settings"].update(
                {
                    "beta": args.beta,
                    "label_smoothing": args.label_smoothing,
                    "loss_type": list(args.loss_type),
                    "loss_weights": args.loss_weights,
                    "f_divergence_type": args.f_divergence_type,
                    "f_alpha_divergence_coef": args.f_alpha_divergence_coef,
                    "ld_alpha": args.ld_alpha,
                    "use_weighting": args.use_weighting,
                    "discopop_tau": args.discopop_tau,
                    "max_length": args.max_length,
                    "truncation_mode": args.truncation_mode,
                    "per_device_train_batch_size": args.per_device_train_batch_size,
                    "learning_rate": args.learning_rate,
                    "max_grad_norm": args.max_grad_norm,
                    "optim": str(args.optim),
                    "gradient_accumulation_steps": args.gradient_accumulation_steps,
                    "disable_dropout": args.disable_dropout,
                }
            )
            trainer = DPOTrainer(
                model=policy,
                ref_model=ref,
                args=args,
                train_dataset=Dataset.from_list(rows),
                processing_class=tokenizer,
            )
            entry["num_rows_kept"] = len(trainer.train_dataset)
            trainer.train()
            entry["log"] = dict(trainer.state.log_history[0])
            entry["global_step"] = trainer.state.global_step
            del trainer
        except Exception as e:  # record TRL's refusal instead of numbers
            entry["error"] = f"{type(e).__name__}: {e}"
            entry["error_traceback_tail"] = traceback.format_exc().strip().splitlines()[-3:]
    entry["trl_messages"] = cap.messages
    return entry


# --------------------------------------------------------------------------------------------------------------------
# Per-row log-probs for the plain sigmoid setting, computed independently of TRL's fused LM head.
# --------------------------------------------------------------------------------------------------------------------
def reference_logps_section(rows, tokenized):
    tk = tokenized[POLICY]["keep_start"]
    examples = [
        {"prompt_ids": r["prompt_ids"], "chosen_ids": r["chosen_ids"], "rejected_ids": r["rejected_ids"]}
        for r in tk["rows"]
    ]
    # TRL's collator, configured exactly as DPOTrainer configures it for pythia-tiny (pad = eos).
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    collator = DataCollatorForPreference(
        pad_token_id=tk["pad_token_id"], max_length=MAX_LENGTH, truncation_mode="keep_start"
    )
    batch = collator(examples)
    input_ids, attention_mask, completion_mask = batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
    n = len(examples)
    beta = 0.1
    result = {
        "note": (
            "Rows in kept_row_indices order (keep_start, pythia-tiny tokenizer). logp = sum over completion tokens "
            "t (completion_mask[t]==1, t>=1) of log_softmax(logits[t-1])[input_ids[t]], from a plain forward pass "
            "(full logits) with attention_mask, float32, dropout off. Same as TRL's _compute_loss (labels = input_ids "
            "masked where completion_mask==0, shifted by one)."
        ),
        "kept_row_indices": tk["kept_row_indices"],
    }
    for label, name in (("policy", POLICY), ("reference", REFERENCE)):
        model = load_model(name)
        model.eval()
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        tgt = input_ids[:, 1:]
        per_tok = logprobs.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
        mask = completion_mask[:, 1:].bool()
        per_tok = per_tok.masked_fill(~mask, 0.0)
        summed = per_tok.sum(dim=1)
        result[f"{label}_chosen_logps"] = summed[:n].tolist()
        result[f"{label}_rejected_logps"] = summed[n:].tolist()
        result[f"{label}_chosen_token_logps"] = [per_tok[i][mask[i]].tolist() for i in range(n)]
        result[f"{label}_rejected_token_logps"] = [per_tok[n + i][mask[n + i]].tolist() for i in range(n)]
        del model
    result["chosen_completion_token_counts"] = completion_mask[:n, 1:].sum(dim=1).tolist()
    result["rejected_completion_token_counts"] = completion_mask[n:, 1:].sum(dim=1).tolist()
    pc = torch.tensor(result["policy_chosen_logps"], dtype=torch.float64)
    pr = torch.tensor(result["policy_rejected_logps"], dtype=torch.float64)
    rc = torch.tensor(result["reference_chosen_logps"], dtype=torch.float64)
    rr = torch.tensor(result["reference_rejected_logps"], dtype=torch.float64)
    delta = (pc - rc) - (pr - rr)
    per_row = -torch.nn.functional.logsigmoid(beta * delta)
    result["sigmoid_per_row_loss_float64"] = per_row.tolist()
    result["sigmoid_loss_mean_float64"] = per_row.mean().item()
    result["rewards_chosen_per_row"] = (beta * (pc - rc)).tolist()
    result["rewards_rejected_per_row"] = (beta * (pr - rr)).tolist()
    return result


def main():
    t0 = time.time()
    rows = load_rows()
    golden = {
        "description": (
            "Golden numbers produced by TRL's own DPOTrainer code (see make_trl_golden.py). Inputs: rows.jsonl. "
            "CPU, float32, dropout disabled, single-threaded."
        ),
        "versions": {
            "trl": trl.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "datasets": datasets.__version__,
            "accelerate": accelerate.__version__,
            "python": platform.python_version(),
        },
        "max_length": MAX_LENGTH,
        "dataset_rows": len(rows),
        "rows_file": ROWS_PATH.name,
    }

    print("tokenized ...", file=sys.stderr)
    golden["tokenized"] = tokenized_section(rows)

    batch_size = golden["tokenized"][POLICY]["keep_start"]["num_rows_kept"]
    golden["loss_run_config"] = {
        "model": POLICY,
        "ref_model": REFERENCE,
        "processing_class": POLICY,
        "per_device_train_batch_size": batch_size,
        "max_steps": 1,
        "logging_steps": 1,
        "learning_rate": 1e-3,
        "beta": 0.1,
        "max_length": MAX_LENGTH,
        "truncation_mode": "keep_start",
        "lr_scheduler_type": "constant",
        "seed": 42,
        "bf16": False,
        "fp16": False,
        "use_cpu": True,
        "gradient_checkpointing": False,
        "dtype": "float32",
        "note": (
            "Each entry's `log` is trainer.state.log_history[0] of a fresh DPOTrainer.train() with max_steps=1: one "
            "optimizer step over a single batch holding every kept row. `loss` is the batch loss of that step "
            "(mean over pairs, summed over loss types with their weights), `grad_norm` is the total L2 norm of all "
            "policy gradients before clipping (max_grad_norm=1.0 clips afterwards, not reflected in the log), "
            "`learning_rate` is the LR used for that step."
        ),
    }

    losses = []
    for name, overrides in LOSS_SETTINGS:
        print(f"loss setting {name} ...", file=sys.stderr)
        losses.append(run_loss_setting(rows, batch_size, name, overrides))
    golden["losses"] = losses

    print("reference logps ...", file=sys.stderr)
    golden["sigmoid_reference_logps"] = reference_logps_section(rows, golden["tokenized"])
    golden["runtime_seconds"] = round(time.time() - t0, 1)

    with open(OUT_PATH, "w") as f:
        json.dump(golden, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {OUT_PATH} in {golden['runtime_seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
