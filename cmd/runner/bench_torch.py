"""PyTorch side of `runner bench`, and the reference for internal/nn's tests.

The models here are the PyTorch modules that internal/nn's architectures
are equal to (their state_dict keys are nn's Param names), built from the
same JSON arch spec and input shape. Five modes, reading JSON on stdin and
writing JSON on stdout:

  bench: {"arch": spec, "input": shape, "batch": B, "seconds": S, "repeats": R}
         trains with torch.optim.SGD (lr 0.01) on random MNIST-shaped data on
         one thread and prints {"steps_per_sec": median over the repeats,
         "cpu_steps_per_sec": the same in the process's CPU time, ...}; with
         "dp": {"clip": C, "noise": σ} each step is DP-SGD's, done the fast
         way (fast_dp_step).
  check: a list of {"arch", "input", "batch", "steps", "x", "labels" or
          "targets", "params": {name: flat values}, "optimizer": spec or
          null, "lr", "train_steps"}; for each, the loss (cross-entropy, or
          MSE for "targets"), the outputs and every gradient for the given
          weights, then, if an optimizer is given, the losses of train_steps
          steps and the weights after them. With "optimizer" it may take
          "no_decay" (a list of bias, norm, embedding: minGPT's parameter
          groups, found here by module type, without weight decay) and
          "schedule" (as below, with "n" its run length), stepped after each
          optimizer step. A transformer request may give "seq_labels" (b·steps
          class ids, -1 where there is no target) in place of "labels": the
          model then gives logits at every position, "out" is (b, steps,
          outputs), and the loss is F.cross_entropy(logits.view(-1, V),
          targets.view(-1), ignore_index=-1), the mean over the targets (the
          copy task).
  schedule: a list of {"lr", "warmup" (steps W), "decay" (none | cosine |
          linear), "min_lr", "n"}; for each, the lr of steps 1..n from
          torch.optim.lr_scheduler: SequentialLR of LinearLR (start_factor
          1/(W+1), total_iters W) and CosineAnnealingLR or LinearLR over the
          n − W steps after, milestone W.
  layer: a list of {"layer": layernorm | attention | embedding | mlp | block,
          "d", "heads", "ff", "approximate", "vocab", "context", "B", "T",
          "x", "dy", "params"}; for each, the output y of the transformer
          layer (nanoGPT's modules below, held as "ln", "attn", "emb", "mlp"
          or "h.0"), and the gradients of sum(y·dy) with respect to x ("dx",
          absent for embeddings, whose x is token ids) and every parameter;
          for attention also "y_mha", the same weights through
          torch.nn.MultiheadAttention with a causal mask.
  dpcheck: a list of {"arch", "input", "batch", "x", "labels", "params",
          "clip"}; for each, every example's gradient of its own
          cross-entropy loss by a loop over the examples: "sq", the squared
          L2 norm of each example's gradient of each parameter (b rows in
          state_dict order), and "clipped", Σ_i min(1, clip/(‖g_i‖ + 1e-6))·g_i
          per parameter, Opacus's flat clipping; "fast_clipped" (mlp and cnn), the same
          sum as fast_dp_step (runner bench -dp's PyTorch step) forms it. A
          transformer reads "x" as b sequences of input Steps token ids, and
          "labels" as b·k class ids for its last k = OutSteps (at least 1)
          positions; an example's loss is the mean over its k positions.

Run with Debian's /usr/bin/python3 (python3-torch).
"""

import json
import math
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
    if kind == "transformer":
        return GPT(spec, inp["Vocab"], outputs), lambda x, b, steps: x.reshape(b, steps).long()
    raise ValueError("unknown arch type %r" % kind)


class Embeddings(nn.Module):
    """nanoGPT's wte and wpe: token ids (B, T) → wte[id] + wpe[t]."""

    def __init__(self, vocab, context, d):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)

    def forward(self, idx):
        return self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))


class CausalSelfAttention(nn.Module):
    """nanoGPT's CausalSelfAttention, written out (no fused kernel)."""

    def __init__(self, d, heads):
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.heads = heads

    def forward(self, x):
        B, T, D = x.shape
        hd = D // self.heads
        q, k, v = self.c_attn(x).split(D, dim=2)
        q, k, v = (t.view(B, T, self.heads, hd).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, D)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, d, ff, approximate):
        super().__init__()
        self.c_fc = nn.Linear(d, ff)
        self.gelu = nn.GELU(approximate=approximate)
        self.c_proj = nn.Linear(ff, d)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    """nanoGPT's pre-LN Block: x + attn(ln_1(x)), then + mlp(ln_2(·))."""

    def __init__(self, d, heads, ff, approximate):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = MLP(d, ff, approximate)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """nanoGPT's GPT classifying from the last position: logits
    ln_f(x)[:, -1] · lm_head.weightᵀ, or with "tied" the first `outputs`
    rows of wte in place of lm_head (no lm_head then)."""

    def __init__(self, spec, vocab, outputs):
        super().__init__()
        d, approx = spec["d_model"], spec.get("approximate") or "none"
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, d),
            wpe=nn.Embedding(spec["context"], d),
            h=nn.ModuleList([Block(d, spec["heads"], spec["d_ff"], approx) for _ in range(spec["layers"])]),
            ln_f=nn.LayerNorm(d)))
        self.tied, self.outputs = spec.get("tied", False), outputs
        self.all_positions = False  # logits at every position (seq_labels)
        if not self.tied:
            self.lm_head = nn.Linear(d, outputs, bias=False)

    def forward(self, idx):
        t = self.transformer
        x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1]))
        for block in t.h:
            x = block(x)
        x = t.ln_f(x)
        if not self.all_positions:
            x = x[:, -1]
        w = t.wte.weight[:self.outputs] if self.tied else self.lm_head.weight
        return x @ w.T


def load(model, params):
    state = model.state_dict()
    if sorted(state) != sorted(params):
        raise ValueError("parameter names differ: torch %s, cliplab %s" % (sorted(state), sorted(params)))
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32).reshape(state[k].shape)
                           for k, v in params.items()})


def layer(req):
    torch.set_num_threads(1)
    kind, B, T = req["layer"], req["B"], req["T"]
    d, approx = req["d"], req.get("approximate") or "none"
    holder = nn.Module()
    if kind == "layernorm":
        holder.ln = mod = nn.LayerNorm(d)
    elif kind == "attention":
        holder.attn = mod = CausalSelfAttention(d, req["heads"])
    elif kind == "embedding":
        holder.emb = mod = Embeddings(req["vocab"], req["context"], d)
    elif kind == "mlp":
        holder.mlp = mod = MLP(d, req["ff"], approx)
    elif kind == "block":
        holder.h = nn.ModuleList([Block(d, req["heads"], req["ff"], approx)])
        mod = holder.h[0]
    else:
        raise ValueError("unknown layer %r" % kind)
    load(holder, req["params"])
    if kind == "embedding":
        x = torch.tensor(req["x"], dtype=torch.float32).long().reshape(B, T)
    else:
        x = torch.tensor(req["x"], dtype=torch.float32).reshape(B, T, d).requires_grad_()
    y = mod(x)
    (y * torch.tensor(req["dy"], dtype=torch.float32).reshape(y.shape)).sum().backward()
    res = {"y": y.detach().reshape(-1).tolist(),
           "grads": {k: p.grad.reshape(-1).tolist() for k, p in holder.named_parameters()}}
    if kind != "embedding":
        res["dx"] = x.grad.reshape(-1).tolist()
    if kind == "attention":
        mha = nn.MultiheadAttention(d, req["heads"], batch_first=True)
        with torch.no_grad():
            mha.in_proj_weight.copy_(mod.c_attn.weight)
            mha.in_proj_bias.copy_(mod.c_attn.bias)
            mha.out_proj.weight.copy_(mod.c_proj.weight)
            mha.out_proj.bias.copy_(mod.c_proj.bias)
            mask = torch.ones(T, T, dtype=torch.bool).triu(1)  # True: may not attend
            y_mha, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
        res["y_mha"] = y_mha.reshape(-1).tolist()
    return res


def groups(model, no_decay, wd):
    """minGPT's configure_optimizers: the parameters of the groups no_decay
    names (biases; LayerNorm modules; Embedding modules) get weight decay
    0, the others wd."""
    skip = set()
    for mod in model.modules():
        for pname, p in mod.named_parameters(recurse=False):
            if ("bias" in no_decay and pname == "bias"
                    or "norm" in no_decay and isinstance(mod, nn.LayerNorm)
                    or "embedding" in no_decay and isinstance(mod, nn.Embedding)):
                skip.add(id(p))
    decay = [p for p in model.parameters() if id(p) not in skip]
    rest = [p for p in model.parameters() if id(p) in skip]
    return [{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]


def scheduler(opt, s):
    """The lr_scheduler of a schedule request s (see the module doc)."""
    sched = torch.optim.lr_scheduler
    w, n, decay = s["warmup"], s["n"], s.get("decay") or "none"
    parts = []
    if w > 0:
        parts.append(sched.LinearLR(opt, start_factor=1 / (w + 1), end_factor=1.0, total_iters=w))
    if decay == "cosine":
        parts.append(sched.CosineAnnealingLR(opt, T_max=n - w, eta_min=s["min_lr"]))
    elif decay == "linear":
        parts.append(sched.LinearLR(opt, start_factor=1.0, end_factor=s["min_lr"] / s["lr"], total_iters=n - w))
    if not parts:
        return sched.ConstantLR(opt, factor=1.0, total_iters=0)
    if len(parts) == 1:
        return parts[0]
    return sched.SequentialLR(opt, parts, milestones=[w])


def schedule(req):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=req["lr"])
    sch = scheduler(opt, req)
    lrs = []
    for _ in range(req["n"]):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return lrs


def optimizer(spec, params, lr, model=None, no_decay=None):
    name = spec["name"]
    wd = spec.get("weight_decay", 0.0)
    if no_decay:
        params, wd = groups(model, no_decay, wd), 0.0
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
    if inp.get("Vocab"):  # token ids, as cliplab's bench draws them
        x = prepare(torch.randint(0, inp["Vocab"], (b, inp["Steps"])).float(), b, inp["Steps"])
    else:
        x = prepare(torch.rand(b, inp["C"] * inp["H"] * inp["W"]), b, inp["H"])
    y = torch.randint(0, inp["Outputs"], (b,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    if req.get("dp"):
        step = fast_dp_step(model, opt, x, y, req["dp"]["clip"], req["dp"]["noise"])

    for _ in range(20):
        step()
    rates, cpu_rates = [], []
    for _ in range(req["repeats"]):
        n, start, cpu0 = 0, time.perf_counter(), time.process_time()
        while True:
            step()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= req["seconds"]:
                break
        rates.append(n / elapsed)
        cpu_rates.append(n / (time.process_time() - cpu0))
    return {"steps_per_sec": statistics.median(rates), "rates": rates,
            "cpu_steps_per_sec": statistics.median(cpu_rates),
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def fast_dp_step(model, opt, x, y, clip, sigma):
    """Returns fast_dp's step on the batch (x, y), divided by its size."""
    step = fast_dp(model, opt, clip, sigma)
    return lambda: step(x, y)


def fast_dp(model, opt, clip, sigma, expected=None):
    """Returns step(x, y): DP-SGD's step (dp_flat) done the fast way, as Opacus's fast
    gradient clipping and Li et al. 2021 do it: per-example gradient norms
    from what layer hooks keep (a Linear's ‖∇W_i‖² = ‖a_i‖²·‖δ_i‖², Goodfellow
    2015; a Conv2d's from each example's gradient, einsum of δ_i with the
    unfolded input, as Opacus's conv grad sampler), the backward of that
    pass going only to the layers' outputs (torch.autograd.grad: no
    parameter gradients), then one backward of the loss reweighted by
    min(1, C/(‖g_i‖ + 1e-6)), N(0, σ²C²) added to the summed gradients and
    the sum divided by the batch size (Opacus's DPOptimizer: the expected
    batch size qN when expected is given, as for Poisson batches), then SGD.
    An empty batch (Poisson) steps on the noise alone."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if any(not isinstance(m, (nn.Linear, nn.Conv2d, nn.ReLU, nn.Tanh, nn.MaxPool2d, nn.Flatten, nn.Sequential))
           for m in model.modules()):
        raise ValueError("fast DP-SGD: only Linear, Conv2d, activations, max-pool and Flatten have per-example norms here")
    saved = {}

    def keep(mod, inputs, output):
        saved[mod] = (inputs[0].detach(), output)

    for m in layers:
        m.register_forward_hook(keep)
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    params = [p for p in model.parameters()]

    def step(x, y):
        b = x.shape[0]
        opt.zero_grad(set_to_none=True)
        if b == 0:
            for p in params:
                p.grad = torch.zeros_like(p)
            noise_and_step(expected)
            return
        losses = loss_fn(model(x), y)
        outs = [saved[m][1] for m in layers]
        dzs = torch.autograd.grad(losses.sum(), outs, retain_graph=True)
        sq = torch.zeros(b)
        with torch.no_grad():
            for m, dz in zip(layers, dzs):
                a = saved[m][0]
                if isinstance(m, nn.Linear):
                    dz2 = dz.pow(2).sum(1)
                    sq += a.pow(2).sum(1) * dz2 + dz2
                else:
                    cols = torch.nn.functional.unfold(a, m.kernel_size)  # (b, C·k·k, T)
                    dzf = dz.reshape(b, dz.shape[1], -1)  # (b, O, T)
                    gw = torch.einsum("bot,bkt->bok", dzf, cols)
                    sq += gw.pow(2).sum((1, 2)) + dzf.sum(2).pow(2).sum(1)
            factor = (clip / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        (losses * factor).sum().backward()
        noise_and_step(expected or b)

    def noise_and_step(denom):
        with torch.no_grad():
            for p in params:
                p.grad += torch.normal(0.0, sigma * clip, size=p.shape)
                p.grad /= denom
        opt.step()

    return step


def check(req):
    torch.set_num_threads(1)
    inp, b, steps = req["input"], req["batch"], req.get("steps", 0)
    model, prepare = build(req["arch"], inp)
    load(model, req["params"])
    x = prepare(torch.tensor(req["x"], dtype=torch.float32), b, steps)
    if "targets" in req:
        target = torch.tensor(req["targets"], dtype=torch.float32).reshape(b, -1)
        loss_fn = nn.MSELoss()
    elif "seq_labels" in req:
        model.all_positions = True
        target = torch.tensor(req["seq_labels"]).reshape(b, steps)

        def loss_fn(logits, targets):
            return nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-1)
    else:
        target = torch.tensor(req["labels"])
        loss_fn = nn.CrossEntropyLoss()
    out = model(x)
    loss = loss_fn(out, target)
    loss.backward()
    res = {"loss": loss.item(), "out": out.detach().reshape(-1).tolist(),
           "grads": {k: p.grad.reshape(-1).tolist() for k, p in model.named_parameters()}}
    if req.get("optimizer"):
        opt = optimizer(req["optimizer"], model.parameters(), req["lr"], model, req.get("no_decay"))
        sch = scheduler(opt, dict(req["schedule"], lr=req["lr"])) if req.get("schedule") else None
        losses, lrs = [], []
        for _ in range(req["train_steps"]):
            opt.zero_grad()
            loss = loss_fn(model(x), target)
            losses.append(loss.item())
            loss.backward()
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if sch:
                sch.step()
        res["train_losses"], res["lrs"] = losses, lrs
        res["params_after"] = {k: p.detach().reshape(-1).tolist() for k, p in model.named_parameters()}
    return res


def dpcheck(req):
    torch.set_num_threads(1)
    inp, b = req["input"], req["batch"]
    model, prepare = build(req["arch"], inp)
    state = model.state_dict()
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32).reshape(state[k].shape)
                           for k, v in req["params"].items()})
    steps = 0
    if req["arch"]["type"] == "transformer":
        steps = inp["Steps"]
    x = prepare(torch.tensor(req["x"], dtype=torch.float32), b, steps)
    y = torch.tensor(req["labels"])
    loss_fn = nn.CrossEntropyLoss()
    out_k = max(1, inp.get("OutSteps") or 0)
    if steps:
        # Logits at the last out_k positions, labels (b, out_k); an example's
        # loss is the mean cross-entropy over its out_k positions (cliplab's
        # mean over b·out_k rows is the mean of those).
        model.all_positions = True
        y = y.reshape(b, out_k)

        def loss_fn(logits, targets):
            logits = logits[:, -out_k:]
            return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    names = list(state)
    params = dict(model.named_parameters())
    sq, grads = [], []
    for i in range(b):
        model.zero_grad()
        loss_fn(model(x[i:i + 1]), y[i:i + 1]).backward()
        g = {k: params[k].grad.detach().clone() for k in names}
        grads.append(g)
        sq.append([float(g[k].double().pow(2).sum()) for k in names])
    clipped = {k: torch.zeros_like(params[k]) for k in names}
    for g in grads:
        norm = torch.stack([g[k].norm(2) for k in names]).norm(2)
        factor = (req["clip"] / (norm + 1e-6)).clamp(max=1.0)
        for k in names:
            clipped[k] += factor * g[k]
    res = {"sq": sq, "clipped": {k: v.reshape(-1).tolist() for k, v in clipped.items()}}
    if req["arch"]["type"] in ("mlp", "cnn"):
        # The same sum from fast_dp_step (runner bench -dp's PyTorch side) with
        # σ = 0: its gradient is the sum divided by b, and lr 0 keeps the
        # weights. It has no recurrent layers (nor does the bench).
        fast_dp_step(model, torch.optim.SGD(model.parameters(), lr=0.0), x, y, req["clip"], 0.0)()
        res["fast_clipped"] = {k: (params[k].grad * b).reshape(-1).tolist() for k in names}
    return res


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    req = json.load(sys.stdin)
    if mode == "bench":
        res = bench(req)
    elif mode == "check":
        res = [check(r) for r in req]
    elif mode == "layer":
        res = [layer(r) for r in req]
    elif mode == "dpcheck":
        res = [dpcheck(r) for r in req]
    elif mode == "schedule":
        res = [schedule(r) for r in req]
    else:
        sys.exit("usage: bench_torch.py bench|check|layer|dpcheck|schedule < request.json")
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
