"""PyTorch side of internal/train's TestParityHighLR (issue 17).

mlp2 (784-256-256-10, ReLU, PyTorch's default init under torch.manual_seed(seed))
on the full MNIST training set, SGD (lr, no momentum), batch size, one epoch,
cross-entropy, no clipping: the cell in which cliplab and PyTorch were
compared. Test accuracy is measured on the 10,000 test images after the steps
listed in --eval-steps (the last one is the final accuracy).

--order randperm: the epoch's order is torch.randperm (as DataLoader(shuffle=True)
draws it, from the same generator as the initialisation).
--order FILE: the order is read from FILE (little-endian int32, one
permutation of 60,000 per seed, in the order of the seeds): cliplab's own
data order, written by the Go test.

Prints one JSON line per seed: {"seed": s, "acc": {step: acc, ...}}.
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np
import torch


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", required=True)
    ap.add_argument("--seeds", required=True, help="comma-separated")
    ap.add_argument("--order", default="randperm")
    ap.add_argument("--lr", type=float, default=0.3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--eval-steps", required=True, help="comma-separated steps after which to evaluate")
    a = ap.parse_args()
    torch.set_num_threads(1)
    # ToTensor: a float32 division by 255, as cliplab's pixelScale.
    xtr = torch.from_numpy(idx(os.path.join(a.mnist, "train-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255)
    ytr = torch.from_numpy(idx(os.path.join(a.mnist, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    xte = torch.from_numpy(idx(os.path.join(a.mnist, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255)
    yte = torch.from_numpy(idx(os.path.join(a.mnist, "t10k-labels-idx1-ubyte.gz")).astype(np.int64))
    n = xtr.shape[0]
    seeds = [int(s) for s in a.seeds.split(",")]
    evals = sorted(int(s) for s in a.eval_steps.split(","))
    orders = None
    if a.order != "randperm":
        raw = np.fromfile(a.order, dtype="<i4")
        orders = raw.reshape(len(seeds), n)
    for k, seed in enumerate(seeds):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                    torch.nn.ReLU(), torch.nn.Linear(256, 10))
        opt = torch.optim.SGD(model.parameters(), lr=a.lr)
        perm = torch.randperm(n) if orders is None else torch.from_numpy(orders[k].astype(np.int64))
        accs = {}
        step = 0
        for lo in range(0, n, a.batch):
            i = perm[lo:lo + a.batch]
            loss = torch.nn.functional.cross_entropy(model(xtr[i]), ytr[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step in evals:
                with torch.no_grad():
                    accs[step] = (model(xte).argmax(1) == yte).float().mean().item()
        line = json.dumps({"seed": seed, "acc": accs})
        print(line, flush=True)
        print(a.order if orders is None else "cliplab's order", line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
