# Everything installs from this repository's own files into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo install benchmark baselines check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Two pytest workers for the two cores, one file each at a time, longest files first (kept in that
# order by --no-loadscope-reorder); they share compiled programs through the session's XLA cache
# (tests/conftest.py). Tests marked `check` run in `make check`.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q -m "not check" tests

demo: $(STAMP)
	$(BIN)/jaxrl train ppo --env CartPole-v1 --total-timesteps 500000 --num-seeds 4 --checkpoint-every 50 --run-dir runs/demo

benchmark: $(STAMP)
	$(BIN)/python -m experiments.benchmarks.throughput

# The reference-results table (docs/baselines.md); rows already stored are skipped. With
# PEERS=rejax, Rejax runs the same rows beside jaxrl's (its Python: ../shared/peers/setup.sh).
baselines: $(STAMP)
	$(BIN)/python -m experiments.baselines --profile cpu $(if $(PEERS),--peers $(PEERS))

# The regression slice: each agent on its cheapest env, 4 seeds, against the intervals stored in
# docs/baselines/check.csv (exit status 1 names a row that left its interval); then the learning
# tests too long for `make test`, on two workers as there (marked `check`; README.md lists them,
# `pytest -m check --collect-only tests` shows them).
check: $(STAMP)
	$(BIN)/python -m experiments.baselines --check
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q -m check tests

clean:
	rm -rf $(VENV) runs .pytest_cache
