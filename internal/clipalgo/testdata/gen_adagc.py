"""Runs the reference AdaGC code on fixed gradient sequences and writes what it
did to adagc_reference.json, for adagc_test.go.

The reference code itself is run, not a transcription of it:
  REFSRC=/path/to/megatron-gpt2.patch /usr/bin/python3 gen_adagc.py
where megatron-gpt2.patch is lishuai-97/AdaGC's (commit 32c249f, git blob
cba5033e; the authors' PyTorch release of Wang et al. 2025, arXiv 2502.11034).
The script takes the lines the patch adds to megatron/optimizer/clip_grads.py
for class AdaGC (patch lines 50386-50564, clip_grads.py lines 287-464 after
the patch) and executes them as they are but for one kind of line: the three
`assert param.grad.type() == 'torch.cuda.FloatTensor'` are dropped, because
these runs are float64 on the CPU (so that Go's float64 replay can be held to
1e-12). What the class calls outside itself is supplied for one rank on the
CPU: apex's multi_tensor_applier with amp_C's multi_tensor_l2norm (the global
L2 norm of a list of tensors) and multi_tensor_scale (out = in * scale),
torch.distributed.all_reduce (a no-op: one rank), torch.cuda.FloatTensor and
IntTensor (CPU tensors), Megatron's print_rank_0 (silent) and mpu (unused: no
parameter here is tensor-parallel). The clipper is called as Megatron's
MegatronOptimizer.clip_grad_norm calls it (the patch's optimizer.py):
clipper(params, grads, clip_grad, check_for_nan_in_grad=False), with
clip_grad as the warm-up max norm.

Needs torch (made with Debian's python3-torch 1.13, Python 3.11).
"""
import hashlib
import json
import math
import os
import sys
import types
from collections import defaultdict

import numpy as np
import torch

PATCH_BLOB = "cba5033e127fc5d2b3335a93e58bd7e1b5790858"  # git blob of megatron-gpt2.patch at 32c249f


def load_reference():
    with open(os.environ["REFSRC"], "rb") as f:
        raw = f.read()
    blob = hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()
    if blob != PATCH_BLOB:
        sys.exit(f"{os.environ['REFSRC']}: git blob {blob}, want {PATCH_BLOB} (lishuai-97/AdaGC 32c249f)")
    lines = raw.decode().split("\n")
    start = lines.index("+class AdaGC():")
    end = lines.index("+# clip_mode: choices=['GlobalGC', 'AdaGC', 'AdaGC-Shard', 'AdaGC-Global']")
    src, dropped = [], 0
    for line in lines[start:end]:
        assert line.startswith("+"), line
        line = line[1:]
        if line.strip() == "assert param.grad.type() == 'torch.cuda.FloatTensor'":
            dropped += 1
            continue
        src.append(line)
    assert dropped == 3, dropped
    return "\n".join(src), start + 1


class _Cuda:
    @staticmethod
    def FloatTensor(x):
        return torch.tensor(x, dtype=torch.float64)

    @staticmethod
    def IntTensor(x):
        return torch.tensor(x, dtype=torch.int32)

    @staticmethod
    def current_device():
        return "cpu"


class _Distributed:
    ReduceOp = types.SimpleNamespace(SUM="sum", MAX="max")

    @staticmethod
    def all_reduce(t, op=None, group=None):
        pass  # one rank: the sum (or max) over ranks is the tensor itself

    @staticmethod
    def get_rank():
        return 0


class _Torch:
    """torch, with cuda and distributed for one CPU rank."""
    cuda = _Cuda
    distributed = _Distributed

    def __getattr__(self, name):
        return getattr(torch, name)


def _l2norm(buf, lists, per_tensor):
    (ts,) = lists
    return torch.sqrt(sum(t.double().pow(2).sum() for t in ts)).reshape(1), None


def _scale(buf, lists, scale):
    src, dst = lists
    for s, d in zip(src, dst):
        d.copy_(s * scale)


AMP_C = types.SimpleNamespace(multi_tensor_l2norm=_l2norm, multi_tensor_scale=_scale)

SRC, SRC_LINE = load_reference()
NS = {
    "torch": _Torch(), "inf": math.inf, "defaultdict": defaultdict, "os": os,
    "multi_tensor_applier": lambda op, buf, lists, *args: op(buf, lists, *args),
    "amp_C": AMP_C, "print_rank_0": lambda *a, **k: None,
    "mpu": types.SimpleNamespace(get_tensor_model_parallel_group=lambda: None),
}
exec(compile(SRC, f"megatron-gpt2.patch:{SRC_LINE}", "exec"), NS)
AdaGC = NS["AdaGC"]

# A dense layer and its bias, a second dense layer and its bias: the tensors
# AdaGC clips one by one.
SHAPES = [(4, 3), (4,), (2, 4), (2,)]


def sequence(seed, steps, spikes=None, zeros=None, scale=1.0, decay=0.96):
    """Gradients with per-tensor norms around 0.3*scale*decay**step (random
    directions, scales within ±25%), as in training, where norms fall: so
    that after warm-up some tensors stay under λ times their EMA and some
    do not. Multiplied by spikes[(step, tensor)], zero at zeros (0-based)."""
    spikes, zeros = spikes or {}, zeros or set()
    rng = np.random.default_rng(seed)
    out = []
    for s in range(steps):
        g = []
        for i, sh in enumerate(SHAPES):
            f = scale * decay**s * rng.uniform(0.75, 1.25) * spikes.get((s, i), 1.0) * 0.3 / math.sqrt(math.prod(sh))
            x = rng.standard_normal(sh) * f
            if (s, i) in zeros:
                x = np.zeros(sh)
            g.append(x)
        out.append(g)
    return out


def run(name, spec, grads, clip_ratio, beta, eps, warmup, max_norm):
    params = [torch.nn.Parameter(torch.zeros(sh, dtype=torch.float64)) for sh in SHAPES]
    clipper = AdaGC(clip_ratio=clip_ratio, beta=beta, eps=eps, start_clip_steps=warmup)
    steps = []
    for g in grads:
        for p, x in zip(params, g):
            p.grad = torch.tensor(x, dtype=torch.float64)
        total = clipper(params, [p.grad for p in params], max_norm, False)
        steps.append({
            "grad": [x.ravel().tolist() for x in g],
            "clipped": [p.grad.detach().numpy().ravel().tolist() for p in params],
            "total_norm": float(total),
            "gamma": [float(clipper.state[p]["norm_value"]) for p in params],
        })
    return {"name": name, "spec": {"method": "adagc", **spec}, "steps": steps}


# Spikes after warm-up in one tensor only (the case AdaGC is for), then in all.
spikes = {(8, 0): 6.0, (9, 0): 3.0, (12, 2): 20.0, (15, 1): 0.05, (17, 0): 5.0, (17, 1): 5.0, (17, 2): 5.0,
          (17, 3): 5.0, (21, 3): 40.0}
cases = [
    # The reference's defaults (clip_ratio 1.04, beta 0.99, eps 1e-6 in
    # AdaGC.__init__; clip-grad 1.0 in run_pretrain_gpt2_345m.sh) with a
    # short warm-up; global norms around 1 so that some warm-up steps clip.
    run("defaults_warm5", {"threshold": 1.04, "warmup_steps": 5},
        sequence(1, 30, spikes, scale=2.0), 1.04, 0.99, 1e-6, 5, 1.0),
    # A looser λ, a faster EMA and a tighter warm-up cap.
    run("l1.5_b0.9_warm3_max0.5", {"threshold": 1.5, "beta": 0.9, "warmup_steps": 3, "warmup_max_norm": 0.5},
        sequence(2, 30, spikes), 1.5, 0.9, 1e-6, 3, 0.5),
    # No warm-up: the first step sets each EMA to its own raw norm (line 450),
    # and λ < 1 clips every tensor at that step already.
    run("nowarm_l0.8_b0.95", {"threshold": 0.8, "beta": 0.95, "warmup_steps": 0},
        sequence(3, 25, spikes), 0.8, 0.95, 1e-6, 0, 1.0),
    # Zero gradients: tensor 3 is zero at warm-up step 2, so its EMA is the
    # minimum 0 and every later nonzero gradient of it is scaled to 0 (the
    # reference's λ·0/(‖g‖+eps)); tensor 1 is zero at steps 6-7 after
    # warm-up, which only decays its EMA; at step 10 every tensor is zero.
    run("zeros_l1.2_warm4", {"threshold": 1.2, "warmup_steps": 4},
        sequence(4, 20, spikes, zeros={(1, 3), (6, 1), (7, 1), (10, 0), (10, 1), (10, 2), (10, 3)}, scale=2.0), 1.2, 0.99, 1e-6, 4, 1.0),
    # eps large enough to see in every factor.
    run("eps0.05_l1.1_warm2_max2", {"threshold": 1.1, "eps": 0.05, "warmup_steps": 2, "warmup_max_norm": 2.0},
        sequence(5, 20, spikes, scale=3.5), 1.1, 0.99, 0.05, 2, 2.0),
    # The boundary: every warm-up step clips (max 0.1 far below the norms),
    # step 10 is the last warm-up step, 11 the first AdaGC step.
    run("boundary_warm10_max0.1", {"threshold": 1.04, "warmup_steps": 10, "warmup_max_norm": 0.1},
        sequence(6, 16, {(10, 0): 10.0, (10, 1): 10.0}), 1.04, 0.99, 1e-6, 10, 0.1),
    # Every default, warm-up of 100 steps included, then 10 AdaGC steps.
    run("defaults", {"threshold": 1.04},
        sequence(7, 110, {(103, 2): 8.0, (106, 0): 3.0}, scale=2.5, decay=0.995), 1.04, 0.99, 1e-6, 100, 1.0),
]

meta = {
    "reference": "lishuai-97/AdaGC megatron-gpt2.patch (commit 32c249f), class AdaGC",
    "reference_sha256": hashlib.sha256(SRC.encode()).hexdigest(),
    "torch": torch.__version__, "python": sys.version.split()[0],
    "shapes": SHAPES, "cases": cases,
}
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "adagc_reference.json"), "w") as f:
    json.dump(meta, f, indent=None)
    f.write("\n")
