# Everything installs from this repository's own files into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo install benchmark baselines clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Two pytest workers for the two cores; each worker compiles its own programs.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q tests

demo: $(STAMP)
	$(BIN)/jaxrl train ppo --env CartPole-v1 --total-timesteps 500000 --num-seeds 4 --checkpoint-every 50 --run-dir runs/demo

benchmark: $(STAMP)
	$(BIN)/python -m experiments.benchmarks.throughput

# The reference-results table (docs/baselines.md); rows already stored are skipped. With
# PEERS=rejax, Rejax runs the same rows beside jaxrl's (its Python: ../shared/peers/setup.sh).
baselines: $(STAMP)
	$(BIN)/python -m experiments.baselines --profile cpu $(if $(PEERS),--peers $(PEERS))

clean:
	rm -rf $(VENV) runs .pytest_cache
