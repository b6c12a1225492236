#!/usr/bin/python3
"""Writes prune_golden.json: masks torch.nn.utils.prune computes on weights
full of ties (|w| from a few levels, both signs), for TestPruneTorch.

Run with PyTorch 1.13 (Debian's python3-torch): /usr/bin/python3 torch_prune.py
Each case prunes in rounds, the weights changing between rounds (as training
changes them); a round's amount after the first is the int count
round(s·n) − already pruned, which is what compress.Masks.Prune removes.
"""
import json
import random

import torch
import torch.nn.utils.prune as prune


def weights(rng, shape, levels):
    n = 1
    for d in shape:
        n *= d
    return [rng.choice((-1, 1)) * rng.randint(0, levels - 1) / 8 for _ in range(n)]


def module(shape):
    if len(shape) == 4:
        return torch.nn.Conv2d(shape[1], shape[0], shape[2])
    return torch.nn.Linear(shape[1], shape[0])


def pruned(m):
    return [i for i, x in enumerate(m.weight_mask.flatten().tolist()) if x == 0]


def case(rng, name, scope, shapes, sparsities, levels):
    mods = [module(s) for s in shapes]
    rounds = []
    before = 0
    for r, s in enumerate(sparsities):
        ws = [weights(rng, sh, levels) for sh in shapes]
        for m, w in zip(mods, ws):
            t = torch.tensor(w, dtype=torch.float32).reshape(m.weight.shape)
            if r == 0:
                m.weight.data.copy_(t)
            else:
                m.weight_orig.data.copy_(t)
                for hook in m._forward_pre_hooks.values():
                    hook(m, None)  # weight = weight_orig * mask, as a forward would set it
        if scope == "global":
            total = sum(len(w) for w in ws)
            k = round(s * total)
            amount = s if r == 0 else k - before
            before = k
            prune.global_unstructured([(m, "weight") for m in mods], pruning_method=prune.L1Unstructured, amount=amount)
        else:
            for m, w in zip(mods, ws):
                if r == 0:
                    prune.l1_unstructured(m, "weight", amount=s)
                else:
                    done = int((m.weight_mask == 0).sum())
                    prune.l1_unstructured(m, "weight", amount=round(s * len(w)) - done)
        rounds.append({"sparsity": s, "weights": ws, "pruned": [pruned(m) for m in mods]})
    return {"name": name, "scope": scope, "rounds": rounds}


def main():
    rng = random.Random(16)
    mlp = [[20, 30], [10, 20]]
    cnn = [[4, 3, 3, 3], [16, 36], [10, 16]]
    cases = [
        case(rng, "layer one level", "layer", [[7, 10]], [0.5], 1),
        case(rng, "layer ties", "layer", mlp, [0.3, 0.9], 3),
        case(rng, "layer half to even", "layer", [[5, 6]], [0.25, 0.85], 4),  # 7.5 → 8, 25.5 → 26
        case(rng, "layer partial_sort", "layer", [[40, 50]], [0.01, 0.015, 0.5], 5),  # k·64 ≤ n
        case(rng, "global ties", "global", mlp, [0.5, 0.8, 0.95], 3),
        case(rng, "global cnn", "global", cnn, [0.2, 0.6, 0.9], 6),
        case(rng, "global partial_sort", "global", [[30, 40], [20, 30]], [0.01, 0.5], 40),
        case(rng, "global many levels", "global", mlp, [0.9, 0.98], 1000),
    ]
    with open("prune_golden.json", "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))


main()
