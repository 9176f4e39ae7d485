"""Writes shuffle_golden.json: the reference's data-order primitives, computed with numpy and Python.

numpy legacy seed(0) + randint(0, 2**32) gives the permutation seeds (DPO reference), randint(0, 2**31)
the TDPO reference's; each epoch shuffles with random.seed(seed) + random.shuffle (docs/spec/data.md §9.3).
Run: python3 make_shuffle_golden.py > shuffle_golden.json
"""
import json
import random

import numpy as np

np.random.seed(0)
dpo_seeds = np.random.randint(0, 2**32, size=5).tolist()
np.random.seed(0)
tdpo_seeds = np.random.randint(0, 2**31, size=5).tolist()

shuffles = []
items = list(range(23))
for s in dpo_seeds[:3]:
    random.seed(s)
    random.shuffle(items)  # compounds across epochs, as the reference shuffles in place
    shuffles.append(list(items))

random.seed(0)
small = [random.getrandbits(32) for _ in range(3)]
print(json.dumps({"dpo_seeds": dpo_seeds, "tdpo_seeds": tdpo_seeds,
                  "compound_shuffles_of_range_23": shuffles,
                  "python_seed0_getrandbits32": small}, indent=1))
