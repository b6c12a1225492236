"""Reference batches of the pascanu generator (internal/data/pascanu.go).

Run with numpy (tested with 1.24.2):

    python3 reference.py > golden.json

The two generators restate the draws of AddTask.generate and
TempOrderTask.generate in github.com/pascanur/trainingRNNs (addition.py,
tempOrder.py), in the same order on a numpy.random.RandomState, and return
the raw arrays: time-major, tempOrder.py's symbols and classes. The Go test
(TestPascanuReference) converts them to cliplab's layout.
"""
import json
import numpy

STREAM_TRAIN, STREAM_TEST = 2, 3  # data.streamTrain, data.streamTest


def addition(rng, n, T):
    L = T + rng.randint(int(T * .1))
    p0 = rng.randint(int(L * .1), size=(n,))
    p1 = rng.randint(int(L * .4), size=(n,)) + int(L * .1)
    x = rng.uniform(size=(L, n, 2)).astype('float32')
    x[:, :, 0] = 0.
    k = numpy.arange(n)
    x[p0, k, 0] = 1.
    x[p1, k, 0] = 1.
    y = (x[p0, k, 1] + x[p1, k, 1]) / 2.
    return x, y.astype('float32')


def temporal_order(rng, n, T):
    w = int(T * .1)
    p0 = rng.randint(w, size=(n,)) + w
    v0 = rng.randint(2, size=(n,))
    p1 = rng.randint(w, size=(n,)) + int(T * .5)
    v1 = rng.randint(2, size=(n,))
    sym = rng.randint(4, size=(T, n)) + 2
    k = numpy.arange(n)
    sym[p0, k] = v0
    sym[p1, k] = v1
    return sym, v0 + 2 * v1


def key(seed, stream, epoch, i):
    return [seed & 0xffffffff, seed >> 32, stream, epoch, i]


def floats(a):
    return [float(v) for v in numpy.asarray(a, dtype='float32').ravel()]


out = {"raw": [], "randint": [], "uniform": [], "batches": []}
for seed in [5489, 0, 123, [1, 2, 3, 4, 5], [0xffffffff, 7]]:
    rng = numpy.random.RandomState(seed)
    v = rng.randint(0, 2**32, size=1300, dtype=numpy.uint64)
    out["raw"].append({"seed": seed if isinstance(seed, list) else [seed],
                       "array": isinstance(seed, list),
                       "first": [int(u) for u in v[:8]],
                       "tail": [int(u) for u in v[-8:]]})
rng = numpy.random.RandomState([9, 8, 7])
for n in [1, 2, 3, 4, 5, 7, 10, 17, 100, 1000, 2**31 + 5, 2**32]:
    out["randint"].append({"n": n, "draws": [int(rng.randint(n)) for _ in range(5)]})
rng = numpy.random.RandomState([9, 8, 7, 6])
out["uniform"] = [float(rng.uniform()) for _ in range(10)]

cases = [
    ("addition", 1, STREAM_TRAIN, 0, 0, 3, 10),
    ("addition", 7, STREAM_TRAIN, 2, 5, 4, 25),
    ("addition", 2**40 + 3, STREAM_TEST, 0, 1, 5, 50),
    ("addition", 42, STREAM_TRAIN, 0, 3, 2, 111),
    ("temporal-order", 1, STREAM_TRAIN, 0, 0, 3, 10),
    ("temporal-order", 7, STREAM_TRAIN, 1, 4, 4, 29),
    ("temporal-order", 2**33, STREAM_TEST, 0, 2, 5, 50),
]
for task, seed, stream, epoch, i, n, T in cases:
    rng = numpy.random.RandomState(key(seed, stream, epoch, i))
    if task == "addition":
        x, y = addition(rng, n, T)
        c = {"x": floats(x), "y": floats(y), "steps": x.shape[0]}
    else:
        sym, cls = temporal_order(rng, n, T)
        c = {"sym": [int(v) for v in sym.ravel()], "class": [int(v) for v in cls], "steps": T}
    c.update(task=task, seed=seed, stream=stream, epoch=epoch, i=i, n=n, T=T)
    out["batches"].append(c)
json.dump(out, __import__("sys").stdout, indent=None, separators=(",", ":"))
print()
