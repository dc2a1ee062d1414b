# henryvc: two commands do all set-up on a fresh Debian machine.
#   make demo   sample voice -> tiny Tacotron2 trained by `dvc repro` -> evaluated, tagged, restored, verified
#   make test   every test tier (fast, slow training, SSH, container engine), as CI runs it
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo

.PHONY: lock upgrade setup system-deps demo test test-fast test-randomkill lint engine engine-arm64 test-arm64 gpu-smoke bench clean

system-deps:
	bash scripts/install_system_deps.sh

# Every install takes its versions from requirements.lock (make lock writes it from pyproject.toml), so the
# host venv, CI's venv and the image hold the same set whatever was released today.
PIP_VERSION := 26.3
$(BIN)/henryvc: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q pip==$(PIP_VERSION)
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[train,test]'
	touch $@

# requirements.lock from pyproject.toml: every distribution, transitive ones included, for the core and the
# train, test and bench extras, on every platform the image targets (amd64 and arm64). Pins already in the
# lock are kept; `make upgrade` is the deliberate move to the newest releases.
LOCK_FLAGS := --extra train --extra test --extra bench --universal --python-version 3.11 \
	--annotation-style line --custom-compile-command "make lock" -o requirements.lock
lock: $(BIN)/henryvc
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS)

# The newest releases of everything, installed and tested: an upgrade is a commit of requirements.lock
# that passed `make test`, never a surprise on a fresh machine.
upgrade: $(BIN)/henryvc
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) --upgrade
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[train,test]'
	$(MAKE) test

# Byte-compile the editable sources, as pip does for a regular install: where PYTHONDONTWRITEBYTECODE is
# set (it is on the dev machines) every `henryvc` would otherwise recompile what it imports (17 ms of
# `henryvc list`'s 107 ms, measured).
setup: system-deps $(BIN)/henryvc
	$(BIN)/python -m compileall -q cli training > /dev/null

demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh $(DEMO)

# Podman serving the Docker API (the container tier). A machine where it cannot start still runs the other
# tiers: the engine tests then skip saying why, except under CI=true, where they must run and so fail.
engine: system-deps $(BIN)/henryvc
	bash scripts/container_engine.sh > $(VENV)/engine.out && tail -n 1 $(VENV)/engine.out > $(VENV)/engine.env \
	  || { echo "container engine did not start; see above" >&2; : > $(VENV)/engine.env; }

# qemu-aarch64 emulation and the arm64 base image next to the engine (docs/container.md). Where they cannot
# be had the arm64 tiers skip saying why, except under CI=true, where they fail.
engine-arm64: engine
	bash scripts/container_engine.sh --arch arm64 > /dev/null \
	  || echo "arm64 emulation or base image not prepared; see above" >&2

# The README's test command. The container tier needs the engine the previous lines start; the arm64 check
# in it is the Dockerfile's builder stage for linux/arm64 (-m arm64_builder). The whole arm64 image is
# `make test-arm64`, a scheduled job: it takes longer than CI allows.
test: setup engine engine-arm64
	set -a; . ./$(VENV)/engine.env; set +a; \
	HENRYVC_REQUIRE_ENGINE=$$([ "$$CI" = true ] && echo 1) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -ra -p no:cacheprovider -m "not arm64" tests

# The whole arm64 image built from the Dockerfile under QEMU and smoke-tested inside (about an hour on
# 2 cores, mostly the emulated build). Fails, never skips, when engine, emulation or base are missing.
test-arm64: setup engine-arm64
	set -a; . ./$(VENV)/engine.env; set +a; \
	HENRYVC_REQUIRE_ENGINE=1 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -ra -s -p no:cacheprovider -m arm64 tests/tiers/arm64/test_container_arm64.py

# On a machine with an NVIDIA GPU: install, train the debug run on CUDA, tag, restore, verify (< 10 min).
gpu-smoke:
	bash scripts/gpu_smoke.sh

# Developers' inner loop: no training, no container engine, no kill/sshd/tmpfs/random-kill tier.
test-fast: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow and not engine and not reliability and not randomkill and not slurm and not arm64 and not arm64_builder" tests

# The seeded random-kill tier alone (CI runs it inside `make test`); HENRYVC_KILL_SEED=N replays a failure.
test-randomkill: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -s -p no:cacheprovider -m randomkill tests

# ruff over the code and tests; mypy on the two source roots (strict on the adapters and nouns: pyproject.toml).
lint: $(BIN)/henryvc
	$(BIN)/ruff check cli training tests benchmarks scripts
	MYPYPATH=cli:training $(BIN)/mypy -p henryvc -p henryvc_training

bench: setup
	$(BIN)/python -m pip install -q -e '.[bench]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench.py --workdir /var/tmp

clean:
	rm -rf $(DEMO) .pytest_cache
