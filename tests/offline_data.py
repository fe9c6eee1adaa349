"""Datasets for the offline tests, made once per test process from the tiny policies committed in
tests/data/policies, and Pendulum-v1's medium-replay set committed in tests/data/datasets (both
written by `python -m experiments.collect --env Pendulum-v1 --kind medium-replay --out
tests/data/datasets/Pendulum-v1/medium-replay --save-policies tests/data/policies/Pendulum-v1`, and
the same with `--env CartPole-v1` for its policies): no test trains an expert."""

import functools
import os
import tempfile

import jax
import numpy as np

from jaxrl import agents, datasets

POLICIES = os.path.join(os.path.dirname(__file__), "data", "policies")


@functools.lru_cache(maxsize=None)
def policy(env: str, kind: str) -> agents.Policy:
    """The committed `kind` ("medium" or "expert") policy of `env`."""
    return agents.load_policy(os.path.join(POLICIES, env, kind))


DATASETS = os.path.join(os.path.dirname(__file__), "data", "datasets")


@functools.lru_cache(maxsize=None)
def dataset(env: str, kind: str, episodes: int = 0, seed: int = 0):
    """`episodes` episodes of the committed `kind` policy's sampled actions, as experiments.collect
    plays them (or uniformly random actions for "random") in `env`: (rows, returns). For
    "medium-replay", the committed set (`episodes` ignored)."""
    if kind == "medium-replay":
        rows = datasets.load(os.path.join(DATASETS, env, kind))
        return rows, datasets.episode_returns(rows.reward, rows.last)
    act = None if kind == "random" else policy(env, kind)
    return datasets.collect(env, act, episodes=episodes, key=jax.random.key(seed), sample=True)


def normalised(env: str, returns, episodes: int = 20):
    """(return - random) / (expert - random), the random and expert returns being those of the
    random and expert datasets of `episodes` episodes (D4RL's normalised score, Fu et al. 2020)."""
    random = float(np.mean(dataset(env, "random", episodes)[1]))
    expert = float(np.mean(dataset(env, "expert", episodes)[1]))
    return (np.asarray(returns) - random) / (expert - random)


@functools.lru_cache(maxsize=None)
def bc_scores(env: str, kind: str, num_updates: int = 20_000, episodes: int = 0):
    """BC's normalised final scores (4 vmapped seeds, (64, 64) networks) on a dataset: the bar the
    other offline agents' tests compare with."""
    from jaxrl.agents import bc

    # Four test files ask for the same scores; the session's first worker to compute them stores
    # them for the others (tests/conftest.py), a ~20 s run each time saved.
    shared = os.environ.get("JAXRL_TEST_SHARED")
    path = shared and os.path.join(shared, f"bc_scores-{env}-{kind}-{num_updates}-{episodes}.npy")
    if path and os.path.exists(path):
        return np.load(path)
    rows, _ = dataset(env, kind, episodes)
    config = bc.Config(env=env, num_updates=num_updates, updates_per_iteration=num_updates // 5,
                       hidden_sizes=(64, 64))
    out = jax.jit(jax.vmap(bc.make_train(config, rows)))(jax.random.split(jax.random.key(0), 4))
    scores = normalised(env, out.metrics["episode_return"][:, -1])
    if path:  # written whole, then renamed: a worker never loads a partial file
        with tempfile.NamedTemporaryFile(dir=shared, suffix=".npy", delete=False) as f:
            np.save(f, scores)
        os.replace(f.name, path)
    return scores


def energy_pump(observation, key):
    """MountainCarContinuous-v0's demonstrator: full throttle in the direction the car moves, which
    pumps energy into the swing until it reaches the flag (returns about 82: 100 minus the
    throttle's cost)."""
    import jax.numpy as jnp

    return jnp.where(observation[:, 1:2] >= 0, 1.0, -1.0)


@functools.lru_cache(maxsize=None)
def mountain_car_demonstrations(episodes: int = 10):
    """`episodes` episodes of `energy_pump` in MountainCarContinuous-v0: (rows, returns)."""
    return datasets.collect("MountainCarContinuous-v0", energy_pump, episodes=episodes, key=jax.random.key(0))
