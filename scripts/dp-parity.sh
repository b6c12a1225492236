#!/bin/sh
# dp-parity.sh: issue 11's DP-SGD parity check. Trains experiments/dp-parity.yaml
# with cliplab (dp_flat, Poisson batches) and the same cells with PyTorch 1.13
# (scripts/dp_parity.py: Opacus's DP-SGD written in torch), then prints, per
# cell, the mean test accuracy ± standard error of each and the verdict by
# cliplab's parity rule: the means within 1.5 points, or within 2.5 standard
# errors of the difference (√(se₁² + se₂²)).
# Usage: scripts/dp-parity.sh [WORKDIR]   (default: a fresh temporary directory)
# Needs /usr/bin/python3 with torch and numpy (PYTHON overrides) and data/mnist.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
work=${1:-$(mktemp -d)}
mkdir -p "$work"
go build -o "$work/runner" ./cmd/runner
rm -f "$work/runs.db"
"$work/runner" run -db "$work/runs.db" -workers 1 experiments/dp-parity.yaml >"$work/cliplab.log" 2>&1
"$work/runner" export -db "$work/runs.db" -experiment dp-parity >"$work/cliplab.csv"
: >"$work/torch.jsonl"
for cell in "mlp2 1 1" "mlp2 0.5 0.1" "cnn 1 1" "cnn 0.5 0.1"; do
	set -- $cell
	"$PYTHON" scripts/dp_parity.py --mnist data/mnist --arch "$1" --sigma "$2" --clip "$3" \
		--seeds 1,2,3,4,5 --train-size 12000 --test-size 10000 --batch 256 --epochs 2 --lr 0.5 >>"$work/torch.jsonl"
done
"$PYTHON" - "$work/cliplab.csv" "$work/torch.jsonl" <<'PY'
import csv, json, math, sys
def stats(v):
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    return m, sd / math.sqrt(len(v))
cl, th = {}, {}
for r in csv.DictReader(open(sys.argv[1])):
    cl.setdefault((r["arch"], float(r["noise_multiplier"]), float(r["threshold"])), []).append(float(r["test_acc"]))
for line in open(sys.argv[2]):
    r = json.loads(line)
    th.setdefault((r["arch"], r["sigma"], r["clip"]), []).append(r["acc"])
print("| cell (arch, σ, C) | seeds | cliplab mean ± se | PyTorch mean ± se | Δ (points) | Δ / se | verdict |")
print("| --- | --- | --- | --- | --- | --- | --- |")
fail = 0
for k in sorted(cl, key=lambda k: (k[0] != "mlp2", -k[1])):
    (m1, s1), (m2, s2) = stats(cl[k]), stats(th[k])
    d, se = m1 - m2, math.hypot(s1, s2)
    ok = abs(d) <= 0.015 or abs(d) <= 2.5 * se
    fail += not ok
    print("| %s, %g, %g | %d, %d | %.4f ± %.4f | %.4f ± %.4f | %+.2f | %+.1f | %s |" % (
        k[0], k[1], k[2], len(cl[k]), len(th[k]), m1, s1, m2, s2, 100 * d, d / se, "pass" if ok else "FAIL"))
sys.exit(1 if fail else 0)
PY
