#!/usr/bin/env bash
# report-scale.sh: the report's scale benchmark (issue 14, point 7): builds
# two databases of 10,000 runs × 2,000 logged steps (20 M step rows, about
# 1.5 GB each) and times the report of each with /usr/bin/time -v.
#
# Usage:
#   scripts/report-scale.sh [DIR]     (default /tmp/cliplab-scale)
#
# The shapes (cmd/report/bench_test.go, scaleShapes):
#   grid  2 archs × 5 clip settings × 40 learning rates × 25 seeds
#         (400 settings over 40 learning rates);
#   lrs   2 archs × 5 clip settings × 1,000 learning rates drawn
#         log-uniformly from [1e-3, 10] × 1 seed (10,000 settings).
# The databases are built once (go test -run TestScaleDB, one transaction
# through db.Load) and kept in DIR; delete them after a generator change.
# Prints, per step: wall time, user and system CPU time, peak RSS. On a
# shared machine wall time waits for the CPU: read it beside `uptime`'s load.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/cliplab-scale}
mkdir -p "$dir"
keep='^report:|built|User time|System time|Elapsed|Maximum resident'
echo "== building the databases in $dir (skipped where present)"
CLIPLAB_SCALE_DIR="$dir" /usr/bin/time -v go test -count=1 -timeout 60m -run '^TestScaleDB$' -v ./cmd/report 2>&1 | grep -E "$keep" || true
go build -o "$dir/report" ./cmd/report
for shape in grid lrs; do
	echo "== report of $shape"
	/usr/bin/time -v "$dir/report" -db "$dir/cliplab-report-scale-$shape-v1.db" -out "$dir/out-$shape" 2>&1 | grep -E "$keep"
	uptime
done
