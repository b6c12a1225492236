"""Runs the reference code of AutoClip and ZClip on fixed gradient sequences
and writes what it did to adaptive_reference.json, for adaptive_test.go.

The reference code itself is imported, not copied:
  REFSRC=/path/with/autoclip.py/and/zclip/ /usr/bin/python3 gen_adaptive.py
where autoclip.py is pseeth/autoclip's (commit dfb622c) and zclip/ is
bluorion-com/ZClip's package (commit 584ce4f). Needs torch and numpy (made
with Debian's python3-torch 1.13 and numpy 1.24). Two imports those files
make but these runs never reach are stubbed: pytorch-ignite's EventEnum
(autoclip.py registers its handler through engine.on) and
torch.distributed.fsdp (ZClip only checks isinstance against it).
"""
import enum
import json
import os
import sys
import types

import numpy as np
import torch

# Stubs for imports the runs below never exercise.
ignite = types.ModuleType("ignite")
ignite_engine = types.ModuleType("ignite.engine")
ignite_engine.EventEnum = enum.Enum
ignite.engine = ignite_engine
sys.modules["ignite"], sys.modules["ignite.engine"] = ignite, ignite_engine
fsdp = types.ModuleType("torch.distributed.fsdp")


class _NoFSDP(torch.nn.Module):
    pass


fsdp.FullyShardedDataParallel = _NoFSDP
sys.modules["torch.distributed.fsdp"] = fsdp

sys.path.insert(0, os.environ["REFSRC"])
import autoclip  # noqa: E402
from zclip.zclip import ZClip  # noqa: E402

SHAPES = [(2, 3), (3,)]


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(SHAPES[0], dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.zeros(SHAPES[1], dtype=torch.float64))


def sequence(seed, steps, spikes):
    """Gradients with norms around 1 (random directions and scales) and a
    spike of the given factor at the given steps."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(steps):
        f = spikes.get(s, 1.0) * rng.uniform(0.6, 1.4)
        out.append([rng.standard_normal(sh) * f / 2.5 for sh in SHAPES])
    return out


def run(model, grads, step):
    rows = []
    for g in grads:
        for p, x in zip(model.parameters(), g):
            p.grad = torch.tensor(x, dtype=torch.float64)
        info = step()
        rows.append({
            "grad": [x.ravel().tolist() for x in g],
            "clipped": [p.grad.detach().numpy().ravel().tolist() for p in model.parameters()],
            **info,
        })
    return rows


class Engine:
    """Just enough of ignite's Engine for add_autoclip_gradient_handler."""

    def __init__(self):
        self.handlers = []

    def on(self, event):
        def register(f):
            self.handlers.append(f)
            return f
        return register

    def fire(self):
        for f in self.handlers:
            f(self)


cases = []
spikes = {12: 8.0, 13: 3.0, 20: 30.0, 27: 0.05, 31: 12.0}
for pct in [10, 50, 90, 100]:
    model, engine = Model(), Engine()
    autoclip.add_autoclip_gradient_handler(engine, model, pct)

    def step():
        engine.fire()
        return {}
    cases.append({"name": f"autoclip_p{pct}", "spec": {"method": "autoclip", "threshold": pct},
                  "steps": run(model, sequence(1, 40, spikes), step)})

zclip_cases = [
    ("zclip_defaults_warm5", dict(warmup_steps=5), {"warmup_steps": 5}),
    ("zclip_nocap_warm5", dict(warmup_steps=5, max_grad_norm=None), {"warmup_steps": 5, "max_grad_norm": -1}),
    ("zclip_cap3_z2_warm8", dict(warmup_steps=8, max_grad_norm=3.0, z_thresh=2.0),
     {"warmup_steps": 8, "max_grad_norm": 3.0, "threshold": 2.0}),
    ("zclip_mean_nocap", dict(warmup_steps=5, max_grad_norm=None, clip_option="mean"),
     {"warmup_steps": 5, "max_grad_norm": -1, "clip_option": "mean"}),
    ("zclip_percentile_nocap", dict(warmup_steps=5, max_grad_norm=None, mode="percentile"),
     {"warmup_steps": 5, "max_grad_norm": -1, "mode": "percentile"}),
    ("zclip_factor0.7_skip_alpha0.9", dict(warmup_steps=5, max_grad_norm=None, clip_factor=0.7,
                                           skip_update_on_spike=True, alpha=0.9),
     {"warmup_steps": 5, "max_grad_norm": -1, "clip_factor": 0.7, "skip_update_on_spike": True, "alpha": 0.9}),
    ("zclip_defaults_warm25", dict(), {}),
]
for name, kw, spec in zclip_cases:
    model, zc = Model(), ZClip(**kw)

    def step():
        zc.step(model)
        return {"mean": zc.mean, "var": zc.var}
    spec = {"method": "zclip", "threshold": 2.5, **spec}
    cases.append({"name": name, "spec": spec, "steps": run(model, sequence(2, 40, spikes), step)})

# numpy.percentile's default (linear) method on sorted-or-not samples, for the
# bit-exact check of percentile().
rng = np.random.default_rng(3)
pcts = []
for n in [1, 2, 3, 4, 5, 7, 10, 33, 101]:
    for p in [0.5, 1, 10, 25, 33.3, 50, 66.7, 75, 90, 95, 99, 99.9, 100] + list(rng.uniform(0, 100, 4)):
        a = rng.lognormal(0, 1, n)
        if n >= 5:
            a[: n // 5] = a[0]  # ties
        pcts.append({"a": sorted(a.tolist()), "p": float(p), "want": float(np.percentile(a, p))})

meta = {"numpy": np.__version__, "percentiles": pcts, "torch": torch.__version__, "python": sys.version.split()[0],
        "shapes": SHAPES, "cases": cases}
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "adaptive_reference.json"), "w") as f:
    json.dump(meta, f, indent=None)
    f.write("\n")
