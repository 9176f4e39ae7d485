#!/usr/bin/env python3
"""Golden values for the loss zoo plugins (Tests/LossZooTests), computed independently of the
Swift code: each loss is written out from docs/spec/losses.md §6 in float64 numpy, and every
gradient is a central finite difference of the batch loss (the mean of the per-example losses).

Inputs are multiples of 1/16 so that float32 holds them exactly. Run from anywhere:
    python3 Tests/LossZooTests/Golden/make_zoo_golden.py
It rewrites zoo_golden.json next to this script.
"""
import json
import os

import numpy as np

STEP = 1e-5  # finite-difference step (float64; inputs are O(50), so the error is ~1e-9)


def logsig(x):
    return -np.logaddexp(0.0, -x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def smoothed_logistic(d, beta, eps):
    return -(1 - eps) * logsig(beta * d) - eps * logsig(-beta * d)


# ---------------------------------------------------------------- the losses (docs/spec/losses.md §6)
# Each takes the inputs dict and the options, returns the [B] per-example losses.

def score(d, o):
    """TRL's f_divergence_type (docs/spec/losses.md §6.1): the score f'(exp D) of a log-ratio D."""
    kind = o.get("f_divergence_type", "reverse_kl")
    if kind == "forward_kl":
        return 1 - np.exp(-d)
    if kind == "js_divergence":
        return np.log(2) + logsig(d)
    if kind == "alpha_divergence":
        a = float(o.get("f_alpha_divergence_coef", 0.5))
        return (np.exp(np.minimum((a - 1) * d, 80.0)) - 1) / (a - 1)
    return d


def h_of(x, o=None):
    if o is None or o.get("f_divergence_type", "reverse_kl") == "reverse_kl":
        return (x["pc"] - x["pr"]) - (x["qc"] - x["qr"])
    return score(x["pc"] - x["qc"], o) - score(x["pr"] - x["qr"], o)


def dw(x):
    return x["pc"] - x["qc"]


def dl(x):
    return x["pr"] - x["qr"]


def hinge(x, o):
    return np.maximum(0.0, 1 - o["beta"] * h_of(x, o))


def robust(x, o):
    b, e = o["beta"], o["label_smoothing"]
    return (-(1 - e) * logsig(b * h_of(x, o)) + e * logsig(-b * h_of(x, o))) / (1 - 2 * e)


def exo_pair(x, o):
    b, e = o["beta"], o["label_smoothing"]
    s = sigmoid(b * h_of(x, o))
    return s * (logsig(b * h_of(x, o)) - np.log(1 - e)) + (1 - s) * (logsig(-b * h_of(x, o)) - np.log(e))


def nca_pair(x, o):
    b = o["beta"]
    return -logsig(b * dw(x)) - 0.5 * logsig(-b * dw(x)) - 0.5 * logsig(-b * dl(x))


def bco_pair(x, o):
    # d is a constant here (detached); bco_d computes it from the unperturbed inputs.
    b = o["beta"]
    return -logsig(b * dw(x) - o["d"]) - logsig(-(b * dl(x) - o["d"]))


def sppo_hard(x, o):
    b = o["beta"]
    return (dw(x) - 1 / (2 * b)) ** 2 + (dl(x) + 1 / (2 * b)) ** 2


def aot(x, o):
    d = np.sort(x["pc"] - x["pr"]) - np.sort(x["qc"] - x["qr"])
    return smoothed_logistic(d, o["beta"], o["label_smoothing"])


def aot_pair(x, o):
    d = np.sort(dw(x)) - np.sort(dl(x))
    return smoothed_logistic(d, o["beta"], o["label_smoothing"])


def apo_zero(x, o):
    b = o["beta"]
    return (1 - sigmoid(b * dw(x))) + sigmoid(b * dl(x))


def apo_down(x, o):
    b = o["beta"]
    return sigmoid(b * dw(x)) + (1 - sigmoid(b * h_of(x)))


def discopop(x, o):
    z = o["beta"] * h_of(x, o)
    w = sigmoid(z / o["tau"])
    return (1 - w) * (-logsig(z)) + w * np.exp(-z)


def chosen_token_nll(x):
    b = len(x["pc"])
    tokens, mask = x["policy_token_logps"][:b], x["response_mask"][:b]
    return -(tokens * mask).sum() / mask.sum()


def rpo(x, o):
    return smoothed_logistic(h_of(x), o["beta"], o["label_smoothing"]) + o["alpha"] * chosen_token_nll(x)


def simpo(x, o):
    g = x["pc"] / x["lc"] - x["pr"] / x["lr"] - o["gamma"] / o["beta"]
    return smoothed_logistic(g, o["beta"], o["label_smoothing"])


LOSSES = dict(hinge=hinge, robust=robust, exo_pair=exo_pair, nca_pair=nca_pair, bco_pair=bco_pair,
              sppo_hard=sppo_hard, aot=aot, aot_pair=aot_pair, apo_zero=apo_zero, apo_down=apo_down,
              discopop=discopop, rpo=rpo, simpo=simpo)

# The plugins' defaults, spelled out here (not read from Swift) for the cases that pass no option.
DEFAULTS = dict(beta=0.1, label_smoothing=0.0, tau=0.05, gamma=0.5, alpha=1.0, delta="batch")
EXO_DEFAULT_EPS = 1e-3


def resolved(plugin, given):
    o = dict(DEFAULTS)
    if plugin == "exo_pair":
        o["label_smoothing"] = EXO_DEFAULT_EPS
    o.update({k: (v if k in ("delta", "f_divergence_type") else float(v)) for k, v in given.items()})
    return o


# ---------------------------------------------------------------- inputs

def base_inputs():
    # Pair 1 ties (Dw == Dl, so its rewards are equal and its accuracy is 0). The sort orders of
    # pc-pr, qc-qr, Dw and Dl all differ from batch order and from each other, with gaps >= 0.25.
    return dict(
        pc=np.array([-42.5, -37.25, -55.0, -28.75, -61.125]),
        pr=np.array([-47.0, -36.5, -51.25, -40.5, -58.5]),
        qc=np.array([-44.0, -38.0, -52.5, -33.0, -60.0]),
        qr=np.array([-45.5, -37.25, -52.75, -38.5, -55.0]),
    )


def second_batch():
    return dict(
        pc=np.array([-30.0, -45.5, -20.25, -52.0, -38.75]),
        pr=np.array([-35.5, -41.0, -26.0, -50.5, -44.0]),
        qc=np.array([-33.25, -44.0, -24.5, -49.75, -40.0]),
        qr=np.array([-33.0, -43.5, -25.0, -51.0, -42.25]),
    )


def with_lengths(x):
    x = dict(x)
    x["lc"] = np.array([12.0, 7.0, 20.0, 9.0, 15.0])
    x["lr"] = np.array([10.0, 7.0, 18.0, 25.0, 11.0])
    return x


def with_tokens(x):
    # [2B, 4] per-token policy log-probs (rows 0..B-1 chosen) and a response mask with prompt
    # and padding zeros; independent of pc/pr on purpose, so each input's use is checked.
    x = dict(x)
    rng = np.random.default_rng(9)
    b = len(x["pc"])
    x["policy_token_logps"] = -np.round(rng.uniform(0.1, 6.0, size=(2 * b, 4)) * 16) / 16
    x["response_mask"] = np.array([[0, 1, 1, 1], [0, 0, 1, 1], [1, 1, 1, 0], [0, 1, 0, 0], [0, 1, 1, 1],
                                   [0, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 1], [0, 1, 1, 1], [1, 1, 0, 0]], dtype=float)
    return x


# ---------------------------------------------------------------- expected values

def bco_d(x, o, running):
    if o["delta"] == "zero":
        return 0.0
    rewards = np.concatenate([o["beta"] * dw(x), o["beta"] * dl(x)])
    if o["delta"] == "batch":
        return rewards.mean()
    running.append(rewards.mean())  # TRL <= 0.27: one batch mean per call, equally weighted
    return float(np.mean(running))


def with_pair_weights(x):
    # WPO's weights as the host hands them (DPH_LOSS_PAIR_WEIGHTS): constants of the batch.
    x = dict(x)
    x["pair_weights"] = np.array([0.5, 1.25, 0.75, 1.0, 0.25])
    return x


def weighted(fn):
    """The differentiated loss: each example's loss times its pair weight, when given."""
    return lambda x, o: fn(x, o) * x.get("pair_weights", 1.0)


def gradient(fn, x, o, key):
    g = np.zeros_like(x[key])
    for i in np.ndindex(*x[key].shape):
        plus, minus = dict(x), dict(x)
        plus[key], minus[key] = x[key].copy(), x[key].copy()
        plus[key][i] += STEP
        minus[key][i] -= STEP
        g[i] = (fn(plus, o).mean() - fn(minus, o).mean()) / (2 * STEP)
    return g


def expected(plugin, x, o):
    losses = LOSSES[plugin](x, o)
    fn = weighted(LOSSES[plugin])
    if plugin == "simpo":  # TRL CPO: rewards are beta * averaged policy log-probs, no reference
        chosen, rejected = x["pc"] / x["lc"], x["pr"] / x["lr"]
        rc, rr = o["beta"] * chosen, o["beta"] * rejected
    else:
        chosen, rejected = x["pc"], x["pr"]
        rc, rr = o["beta"] * dw(x), o["beta"] * dl(x)
    e = dict(losses=losses, loss=fn(x, o).mean(), d_pc=gradient(fn, x, o, "pc"), d_pr=gradient(fn, x, o, "pr"),
             rewards_chosen=rc, rewards_rejected=rr, accuracies=(rc > rr).astype(float), margins=rc - rr,
             logps_chosen=chosen, logps_rejected=rejected)
    if plugin == "rpo":
        e["d_policy_token_logps"] = gradient(fn, x, o, "policy_token_logps")
        e["nll_loss"] = np.full(len(losses), chosen_token_nll(x))
    return e


def as_json(d):
    return {k: (v.ravel().tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}


def case(name, plugin, options, batches):
    o = resolved(plugin, options)
    running, calls = [], []
    for x in batches:
        if plugin == "bco_pair":
            o["d"] = bco_d(x, o, running)
        inputs = as_json(x)
        if "policy_token_logps" in x:
            inputs["token_shape"] = list(x["policy_token_logps"].shape)
        calls.append(dict(inputs=inputs, expected=as_json(expected(plugin, x, o))))
    return dict(name=name, plugin=plugin, options=options, calls=calls)


def main():
    x = base_inputs()
    cases = [
        case("hinge", "hinge", {"beta": "0.5"}, [x]),
        case("hinge_default_beta", "hinge", {}, [x]),
        case("robust", "robust", {"beta": "0.5", "label_smoothing": "0.2"}, [x]),
        case("exo_pair", "exo_pair", {"beta": "0.5", "label_smoothing": "0.2"}, [x]),
        case("exo_pair_default_eps", "exo_pair", {"beta": "0.5"}, [x]),
        case("nca_pair", "nca_pair", {"beta": "0.5"}, [x]),
        case("bco_pair_batch", "bco_pair", {"beta": "0.5"}, [x, second_batch()]),
        case("bco_pair_running", "bco_pair", {"beta": "0.5", "delta": "running"}, [x, second_batch()]),
        case("bco_pair_zero", "bco_pair", {"beta": "0.5", "delta": "zero"}, [x]),
        case("sppo_hard", "sppo_hard", {"beta": "0.5"}, [x]),
        case("aot", "aot", {"beta": "0.5", "label_smoothing": "0.1"}, [x]),
        case("aot_pair", "aot_pair", {"beta": "0.5", "label_smoothing": "0.1"}, [x]),
        case("apo_zero", "apo_zero", {"beta": "0.5"}, [x]),
        case("apo_down", "apo_down", {"beta": "0.5"}, [x]),
        case("discopop", "discopop", {"beta": "0.5", "tau": "1.0"}, [x]),
        case("discopop_default_tau", "discopop", {}, [x]),
        case("rpo", "rpo", {"beta": "0.5", "alpha": "0.5"}, [with_tokens(x)]),
        case("rpo_defaults", "rpo", {}, [with_tokens(x)]),
        case("simpo", "simpo", {"beta": "2.0", "gamma": "1.0", "label_smoothing": "0.1"}, [with_lengths(x)]),
        case("simpo_defaults", "simpo", {}, [with_lengths(x)]),
        case("hinge_forward_kl", "hinge", {"beta": "0.5", "f_divergence_type": "forward_kl"}, [x]),
        case("robust_js_divergence", "robust", {"beta": "0.5", "label_smoothing": "0.2", "f_divergence_type": "js_divergence"}, [x]),
        case("exo_pair_alpha_divergence", "exo_pair", {"beta": "0.5", "label_smoothing": "0.2",
                                                        "f_divergence_type": "alpha_divergence", "f_alpha_divergence_coef": "0.5"}, [x]),
        case("discopop_forward_kl", "discopop", {"beta": "0.5", "tau": "1.0", "f_divergence_type": "forward_kl"}, [x]),
        case("nca_pair_pair_weights", "nca_pair", {"beta": "0.5"}, [with_pair_weights(x)]),
        case("rpo_pair_weights", "rpo", {"beta": "0.5", "alpha": "0.5"}, [with_pair_weights(with_tokens(x))]),
    ]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zoo_golden.json")
    with open(out, "w") as f:
        json.dump({"generator": "make_zoo_golden.py", "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
