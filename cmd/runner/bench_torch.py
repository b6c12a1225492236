"""PyTorch side of `runner bench`, and the reference for internal/nn's tests.

The models here are the PyTorch modules that internal/nn's architectures
are equal to (their state_dict keys are nn's Param names), built from the
same JSON arch spec and input shape. Two modes, reading JSON on stdin and
writing JSON on stdout:

  bench: {"arch": spec, "input": shape, "batch": B, "seconds": S, "repeats": R}
         trains with torch.optim.SGD (lr 0.01) on random MNIST-shaped data on
         one thread and prints {"steps_per_sec": median over the repeats, ...}.
  check: a list of {"arch", "input", "batch", "steps", "x", "labels" or
          "targets", "params": {name: flat values}, "optimizer": spec or
          null, "lr", "train_steps"}; for each, the loss (cross-entropy, or
          MSE for "targets"), the outputs and every gradient for the given
          weights, then, if an optimizer is given, the losses of train_steps
          steps and the weights after them.

Run with Debian's /usr/bin/python3 (python3-torch).
"""

import json
import statistics
import sys
import time

import torch
from torch import nn


def build(spec, inp):
    """Returns (model, prepare), prepare reshaping a flat batch for model."""
    kind = spec["type"]
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[spec.get("activation") or "relu"]
    c, h, w = inp.get("C", 0), inp.get("H", 0), inp.get("W", 0)
    outputs = inp["Outputs"]
    if kind == "mlp":
        d = c * h * w if h else inp["Steps"] * inp["Feature"]
        layers = []
        for size in spec.get("hidden") or []:
            layers += [nn.Linear(d, size), act()]
            d = size
        layers.append(nn.Linear(d, outputs))
        return nn.Sequential(*layers), lambda x, b, steps: x.reshape(b, -1)
    if kind == "cnn":
        k, pool = spec.get("kernel") or 5, spec.get("pool") or 2
        layers, ch, hh, ww = [], c, h, w
        for o in spec["channels"]:
            layers += [nn.Conv2d(ch, o, k), act()]
            ch, hh, ww = o, hh - k + 1, ww - k + 1
            if pool > 1:
                layers.append(nn.MaxPool2d(pool))
                hh, ww = hh // pool, ww // pool
        layers.append(nn.Flatten())
        d = ch * hh * ww
        for size in spec.get("hidden") or []:
            layers += [nn.Linear(d, size), act()]
            d = size
        layers.append(nn.Linear(d, outputs))
        return nn.Sequential(*layers), lambda x, b, steps: x.reshape(b, c, h, w)
    if kind == "rnn":
        hidden = spec["hidden"][0]
        feature = c * w if h else inp["Feature"]

        class Recurrent(nn.Module):
            def __init__(self):
                super().__init__()
                cell = nn.LSTM if spec.get("cell") == "lstm" else nn.RNN
                self.rnn = cell(feature, hidden, batch_first=True)
                self.fc = nn.Linear(hidden, outputs)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.fc(out[:, -1])

        def prepare(x, b, steps):
            if h:  # an image is read row by row, all channels of a row at once
                return x.reshape(b, c, h, w).permute(0, 2, 1, 3).reshape(b, h, c * w)
            return x.reshape(b, steps, feature)

        return Recurrent(), prepare
    raise ValueError("unknown arch type %r" % kind)


def optimizer(spec, params, lr):
    name = spec["name"]
    wd = spec.get("weight_decay", 0.0)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=spec["momentum"], dampening=spec.get("dampening", 0.0),
                               nesterov=spec.get("nesterov", False), weight_decay=wd)
    betas = (spec["beta1"], spec["beta2"])
    cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, betas=betas, eps=spec["eps"], weight_decay=wd)


def bench(req):
    torch.set_num_threads(1)
    torch.manual_seed(1)
    inp, b = req["input"], req["batch"]
    model, prepare = build(req["arch"], inp)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x = prepare(torch.rand(b, inp["C"] * inp["H"] * inp["W"]), b, inp["H"])
    y = torch.randint(0, inp["Outputs"], (b,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(20):
        step()
    rates = []
    for _ in range(req["repeats"]):
        n, start = 0, time.perf_counter()
        while True:
            step()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= req["seconds"]:
                break
        rates.append(n / elapsed)
    return {"steps_per_sec": statistics.median(rates), "rates": rates,
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def check(req):
    torch.set_num_threads(1)
    inp, b, steps = req["input"], req["batch"], req.get("steps", 0)
    model, prepare = build(req["arch"], inp)
    state = model.state_dict()
    if sorted(state) != sorted(req["params"]):
        raise ValueError("parameter names differ: torch %s, cliplab %s" % (sorted(state), sorted(req["params"])))
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32).reshape(state[k].shape)
                           for k, v in req["params"].items()})
    x = prepare(torch.tensor(req["x"], dtype=torch.float32), b, steps)
    if "targets" in req:
        target = torch.tensor(req["targets"], dtype=torch.float32).reshape(b, -1)
        loss_fn = nn.MSELoss()
    else:
        target = torch.tensor(req["labels"])
        loss_fn = nn.CrossEntropyLoss()
    out = model(x)
    loss = loss_fn(out, target)
    loss.backward()
    res = {"loss": loss.item(), "out": out.detach().reshape(-1).tolist(),
           "grads": {k: p.grad.reshape(-1).tolist() for k, p in model.named_parameters()}}
    if req.get("optimizer"):
        opt = optimizer(req["optimizer"], model.parameters(), req["lr"])
        losses = []
        for _ in range(req["train_steps"]):
            opt.zero_grad()
            loss = loss_fn(model(x), target)
            losses.append(loss.item())
            loss.backward()
            opt.step()
        res["train_losses"] = losses
        res["params_after"] = {k: p.detach().reshape(-1).tolist() for k, p in model.named_parameters()}
    return res


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    req = json.load(sys.stdin)
    if mode == "bench":
        res = bench(req)
    elif mode == "check":
        res = [check(r) for r in req]
    else:
        sys.exit("usage: bench_torch.py bench|check < request.json")
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
