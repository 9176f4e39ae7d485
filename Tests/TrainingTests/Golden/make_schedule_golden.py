"""Writes schedule_golden.json: the learning rate transformers' own schedulers give an optimizer
at each step (read from the param group before each optimizer.step, then scheduler.step), for
each schedule dpohost offers, and the warmup transformers derives from a warmup ratio. Read by
ScheduleTests.

    python3 make_schedule_golden.py   # with torch and transformers (5.24 made these)
"""
import json, os, types

import torch
from transformers import TrainingArguments, get_scheduler

here = os.path.dirname(os.path.abspath(__file__))
lr, total, warmup, steps = 1e-3, 10, 3, 12
cases = []
for name, kwargs in [("constant", {}), ("constant_with_warmup", {}), ("linear", {}), ("cosine", {}),
                     ("cosine_with_min_lr", {"min_lr_rate": 0.1})]:
    for w in (0, warmup):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
        sched = get_scheduler(name, opt, num_warmup_steps=w, num_training_steps=total, scheduler_specific_kwargs=kwargs)
        rates = []
        for _ in range(steps):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        cases.append({"type": name, "warmup": w, "total": total, "min_lr_rate": kwargs.get("min_lr_rate", 0.0),
                      "lr": lr, "rates": rates})
ratios = []
for ratio, n in [(0.25, 10), (0.1, 95), (0.5, 7), (1 / 3, 9)]:
    # transformers 5 takes a warmup_steps below 1 as the ratio (the warmup_ratio of earlier releases).
    # Its get_warmup_steps reads only that field (building TrainingArguments would need accelerate).
    args = types.SimpleNamespace(warmup_steps=ratio)
    ratios.append({"ratio": ratio, "total": n, "warmup": TrainingArguments.get_warmup_steps(args, n)})
with open(os.path.join(here, "schedule_golden.json"), "w") as f:
    json.dump({"schedules": cases, "warmup_ratio": ratios}, f, indent=1)
