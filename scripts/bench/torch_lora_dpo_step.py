#!/usr/bin/env python3
"""PyTorch + peft anchor for `dpohost bench step --lora R`.

Runs the step of the PyTorch benchmark script (torch_dpo_step.py, given by --shared-script) with
one change: the policy is wrapped by peft with LoRA adapters of rank R (alpha 2R, dropout 0) on
every linear (`target_modules="all-linear"`), its base frozen, and the reference is the same
model with the adapters disabled (`disable_adapter()`, as TRL runs a peft policy's reference),
so that no second copy of the weights exists. The optimizer, clipping, schedule, batch, loss and
output (one JSON line with --json) are the script's own; RMSprop and clipping see only the
adapters, the one parameters with gradients.

    python torch_lora_dpo_step.py --shared-script ../shared/bench/torch_dpo_step.py --lora 16 \
        --arch gpt2 --size base --loss dpo --batch 2 --json
"""

import argparse
import importlib.util


class AdaptersOff:
    """The peft model called with its adapters disabled: LoRA's reference."""

    def __init__(self, model):
        self.model = model

    def __call__(self, *args, **kwargs):
        with self.model.disable_adapter():
            return self.model(*args, **kwargs)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=True)
    p.add_argument("--shared-script", required=True, help="path of torch_dpo_step.py")
    p.add_argument("--lora", type=int, required=True, help="LoRA rank R (alpha 2R)")
    ours, rest = p.parse_known_args()
    spec = importlib.util.spec_from_file_location("torch_dpo_step", ours.shared_script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    build_full = bench.build_models

    def build_models(config, args, need_reference):
        from peft import LoraConfig, get_peft_model
        policy, _ = build_full(config, args, need_reference=False)
        adapted = get_peft_model(policy, LoraConfig(r=ours.lora, lora_alpha=2 * ours.lora, lora_dropout=0.0,
                                                    target_modules="all-linear", task_type="CAUSAL_LM"))
        return adapted, (AdaptersOff(adapted) if need_reference else None)

    bench.build_models = build_models
    bench.main(rest)


if __name__ == "__main__":
    main()
