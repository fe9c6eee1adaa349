"""Times purejaxql's PQN (mttga/purejaxql) on the work of jaxrl's PQN rows in the throughput
benchmark, for a same-run speed ratio. The peer is run, never copied: its script is read from a
checkout you fetched, patched in memory where the current stack has moved on, and imported from a
temporary directory.

    python -m experiments.benchmarks.purejaxql_pqn PUREJAXQL_CHECKOUT {cartpole,minatar} [SEEDS=1] [STEPS]

Work (purejaxql's own configs, `config/alg/pqn_cartpole.yaml` and `pqn_minatar.yaml`, which
jaxrl's `--work pqn` rows also use):
  cartpole  `pqn_gymnax.py` on CartPole-v1: 32 envs x 64 steps, 4 epochs x 16 minibatches, two
            256-wide LayerNorm ReLU layers, RAdam lr 1e-4 decayed linearly, lambda 0.95, reward
            scale 0.1, epsilon 1 -> 0.2 over a fifth of the run; 500k env steps per seed.
  minatar   `pqn_minatar.py` on Breakout-MinAtar: 128 envs x 32 steps, 2 epochs x 32 minibatches,
            a 16-filter 3x3 convolution and a 128-wide layer (LayerNorm, ReLU), lr 5e-4 decayed,
            lambda 0.65, epsilon 1 -> 0.05 over a tenth of the run; 1M env steps per seed.
Evaluation during training is off (TEST_DURING_TRAINING False), as jaxrl's timed programs
evaluate nothing. Seeds as `jax.jit(jax.vmap(train))`: one compile+run, then 3 timed runs, the
median's env steps/s printed as one JSON line.

Patches (each must find its text, or the script stops saying which): gymnax 1.x's `step` returns
6 values (terminated, truncated; purejaxql's `done` is either, as gymnax 0.0.x's single done was);
hydra, omegaconf, wandb and safetensors, imported for the command line, logging and saving, which
the timed `make_train` never calls, are replaced by empty modules instead of installed.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import types

import jax

from experiments.benchmarks.throughput import timed

SCRIPTS = {"cartpole": "pqn_gymnax.py", "minatar": "pqn_minatar.py"}

STEP_PATCH = (
    "                new_obs, new_env_state, reward, new_done, info = vmap_step(\n"
    "                    config[\"NUM_ENVS\"]\n"
    "                )(rng_s, env_state, new_action)\n",
    "                new_obs, new_env_state, reward, new_term, new_trunc, info = vmap_step(\n"
    "                    config[\"NUM_ENVS\"]\n"
    "                )(rng_s, env_state, new_action)\n"
    "                new_done = jnp.logical_or(new_term, new_trunc)  # patched: gymnax 1.x\n",
)

COMMON = {"ALG_NAME": "pqn", "EPS_START": 1.0, "NORM_TYPE": "layer_norm", "MAX_GRAD_NORM": 10,
          "LR_LINEAR_DECAY": True, "GAMMA": 0.99, "ENV_KWARGS": {}, "TEST_DURING_TRAINING": False,
          "TEST_INTERVAL": 0.05, "TEST_NUM_ENVS": 128, "EPS_TEST": 0.0, "WANDB_MODE": "disabled"}
CONFIGS = {
    "cartpole": {**COMMON, "ENV_NAME": "CartPole-v1", "NUM_ENVS": 32, "NUM_STEPS": 64, "EPS_FINISH": 0.2,
                 "EPS_DECAY": 0.2, "NUM_MINIBATCHES": 16, "NUM_EPOCHS": 4, "NORM_INPUT": False, "HIDDEN_SIZE": 256,
                 "NUM_LAYERS": 2, "LR": 1e-4, "REW_SCALE": 0.1, "LAMBDA": 0.95},
    "minatar": {**COMMON, "ENV_NAME": "Breakout-MinAtar", "NUM_ENVS": 128, "NUM_STEPS": 32, "EPS_FINISH": 0.05,
                "EPS_DECAY": 0.1, "NUM_MINIBATCHES": 32, "NUM_EPOCHS": 2, "LR": 5e-4, "LAMBDA": 0.65},
}
DEFAULT_STEPS = {"cartpole": 500_000, "minatar": 1_000_000}


def _stub_modules() -> None:
    """Empty stand-ins for the imports the timed code never calls (command line, logging, saving)."""
    hydra = types.ModuleType("hydra")
    hydra.main = lambda **_: (lambda fn: fn)
    omegaconf = types.ModuleType("omegaconf")
    omegaconf.OmegaConf = None
    safetensors = types.ModuleType("safetensors")
    safetensors_flax = types.ModuleType("safetensors.flax")
    safetensors_flax.load_file = safetensors_flax.save_file = None
    safetensors.flax = safetensors_flax
    for name, module in [("hydra", hydra), ("omegaconf", omegaconf), ("wandb", types.ModuleType("wandb")),
                         ("safetensors", safetensors), ("safetensors.flax", safetensors_flax)]:
        sys.modules.setdefault(name, module)


def load_pqn(checkout: str, work: str):
    """purejaxql's PQN module for `work`, from `checkout`/purejaxql with the step patch applied."""
    name = SCRIPTS[work]
    with open(os.path.join(checkout, "purejaxql", name)) as f:
        text = f.read()
    old, new = STEP_PATCH
    if old not in text:
        raise SystemExit(f"{name} of {checkout} no longer has {old!r}; update STEP_PATCH")
    target = tempfile.mkdtemp(prefix="purejaxql_")
    with open(os.path.join(target, name), "w") as f:
        f.write(text.replace(old, new, 1))
    _stub_modules()
    sys.path.insert(0, target)
    return importlib.import_module(name[:-3])


def main() -> None:
    checkout, work = sys.argv[1], sys.argv[2]
    if work not in SCRIPTS:
        raise SystemExit(f"work must be one of {sorted(SCRIPTS)}, got {work!r}")
    seeds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else DEFAULT_STEPS[work]
    module = load_pqn(checkout, work)
    config = {**CONFIGS[work], "TOTAL_TIMESTEPS": steps, "TOTAL_TIMESTEPS_DECAY": steps}
    train = jax.jit(jax.vmap(module.make_train(config)))
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    first, median, out = timed(train, keys)
    # Steps actually taken: whole updates of NUM_ENVS x NUM_STEPS, as purejaxql rounds down.
    taken = (steps // (config["NUM_ENVS"] * config["NUM_STEPS"])) * config["NUM_ENVS"] * config["NUM_STEPS"]
    returns = out["metrics"]["returned_episode_returns"]  # [seeds, updates], LogWrapper's mean per update
    print(json.dumps(dict(who=f"purejaxql-pqn-{work}", seeds=seeds, compile_plus_run_s=round(first, 2),
                          run_s_median=round(median, 3), env_steps_per_s=round(taken * seeds / median),
                          final_return=round(float(returns[:, -1].mean()), 2), jax=jax.__version__)), flush=True)


if __name__ == "__main__":
    main()
