#!/usr/bin/python3
"""Writes quant_golden.json for TestFakeQuantTorch: scales and zero points
from PyTorch's MinMaxObserver / PerChannelMinMaxObserver and the values of
torch.fake_quantize_per_tensor_affine / fake_quantize_per_channel_affine
with them, for bits 2 to 16, both schemes and both granularities, on
tensors that include values exactly half way between two levels.

Run with PyTorch 1.13 (Debian's python3-torch): /usr/bin/python3 torch_quant.py
"""
import json

import torch
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver


def tensors():
    g = torch.Generator().manual_seed(16)
    out = [torch.randn(6, 10, generator=g) * 0.3]
    out.append(torch.rand(4, 9, generator=g) - 0.8)        # mostly negative
    out.append(torch.rand(3, 7, generator=g) * 0.5)        # all positive
    t = torch.randn(5, 8, generator=g)
    t[0, :] = 0                                            # an all-zero channel
    t[1, 0] = 0
    out.append(t)
    # values on and between the levels of scale 1/8: halves hit ties
    out.append(torch.tensor([[k / 16 for k in range(-24, 24)]], dtype=torch.float32).reshape(4, 12))
    return out


def observer(bits, scheme, channel):
    if scheme == "symmetric":
        qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        dtype = torch.qint8 if bits <= 8 else torch.qint32
        qs = torch.per_channel_symmetric if channel else torch.per_tensor_symmetric
    else:
        qmin, qmax = 0, (1 << bits) - 1
        dtype = torch.quint8 if bits <= 8 else torch.qint32
        qs = torch.per_channel_affine if channel else torch.per_tensor_affine
    if channel:
        o = PerChannelMinMaxObserver(ch_axis=0, dtype=dtype, qscheme=qs, quant_min=qmin, quant_max=qmax)
    else:
        o = MinMaxObserver(dtype=dtype, qscheme=qs, quant_min=qmin, quant_max=qmax)
    return o, qmin, qmax


def main():
    cases = []
    for t in tensors():
        for bits in (2, 3, 4, 8, 12, 16):
            for scheme in ("symmetric", "affine"):
                for channel in (False, True):
                    o, qmin, qmax = observer(bits, scheme, channel)
                    o(t)
                    scale, zp = o.calculate_qparams()
                    if channel:
                        y = torch.fake_quantize_per_channel_affine(t, scale, zp.to(torch.int32), 0, qmin, qmax)
                    else:
                        y = torch.fake_quantize_per_tensor_affine(t, float(scale), int(zp), qmin, qmax)
                    cases.append({
                        "bits": bits, "scheme": scheme, "granularity": "channel" if channel else "tensor",
                        "shape": list(t.shape), "x": t.flatten().tolist(),
                        "scale": scale.flatten().tolist(), "zero_point": zp.flatten().tolist(),
                        "y": y.flatten().tolist(),
                    })
    with open("quant_golden.json", "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    print(len(cases), "cases")


main()
