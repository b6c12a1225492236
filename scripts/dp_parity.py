"""PyTorch side of cliplab's DP-SGD parity check (issue 11; scripts/dp-parity.sh).

DP-SGD as Opacus does it, Opacus not being installed: per-example gradient
norms from layer hooks and one reweighted backward (cmd/runner/bench_torch.py
fast_dp, the PyTorch step of runner bench -dp), clip factor
min(1, C/(‖g_i‖ + 1e-6)), the clipped sum plus N(0, σ²C²) per coordinate,
divided by the expected batch size qN (Opacus's DPOptimizer with Poisson
sampling), then SGD. Poisson sampling: each of the first train_size
examples in each step's batch with probability q = batch/train_size, and
train_size/batch steps (rounded up) an epoch, as cliplab. MNIST pixels are
float32 v/255 (cliplab's internal/data, torchvision's ToTensor); the models
are bench_torch.build's (PyTorch's default initialisation, seeded by
torch.manual_seed(seed)). Prints one JSON line per run: arch, sigma, clip,
seed and the test accuracy after the last step.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "cmd", "runner"))
sys.path.insert(0, os.path.join(here, "..", "internal", "train", "testdata"))
from bench_torch import build, fast_dp  # noqa: E402
from parity_torch import idx  # noqa: E402

ARCHS = {
    "mlp2": {"type": "mlp", "hidden": [256, 256], "activation": "relu"},
    "cnn": {"type": "cnn", "channels": [8, 16], "kernel": 5, "pool": 2},
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", required=True)
    ap.add_argument("--arch", required=True, choices=sorted(ARCHS))
    ap.add_argument("--sigma", type=float, required=True)
    ap.add_argument("--clip", type=float, required=True)
    ap.add_argument("--seeds", required=True, help="comma-separated")
    ap.add_argument("--train-size", type=int, default=12000)
    ap.add_argument("--test-size", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    n = a.train_size
    xtr = torch.from_numpy(idx(os.path.join(a.mnist, "train-images-idx3-ubyte.gz"))[:n].reshape(-1, 784).astype(np.float32) / 255)
    ytr = torch.from_numpy(idx(os.path.join(a.mnist, "train-labels-idx1-ubyte.gz"))[:n].astype(np.int64))
    xte = torch.from_numpy(idx(os.path.join(a.mnist, "t10k-images-idx3-ubyte.gz"))[:a.test_size].reshape(-1, 784).astype(np.float32) / 255)
    yte = torch.from_numpy(idx(os.path.join(a.mnist, "t10k-labels-idx1-ubyte.gz"))[:a.test_size].astype(np.int64))
    q = a.batch / n
    steps = a.epochs * math.ceil(n / a.batch)
    for seed in (int(s) for s in a.seeds.split(",")):
        torch.manual_seed(seed)
        model, prepare = build(ARCHS[a.arch], {"C": 1, "H": 28, "W": 28, "Outputs": 10})
        opt = torch.optim.SGD(model.parameters(), lr=a.lr)
        step = fast_dp(model, opt, a.clip, a.sigma, expected=q * n)
        for _ in range(steps):
            i = (torch.rand(n) < q).nonzero().view(-1)
            step(prepare(xtr[i], len(i), 0), ytr[i])
        with torch.no_grad():
            acc = (model(prepare(xte, len(yte), 0)).argmax(1) == yte).float().mean().item()
        print(json.dumps({"arch": a.arch, "sigma": a.sigma, "clip": a.clip, "seed": seed, "acc": acc}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
