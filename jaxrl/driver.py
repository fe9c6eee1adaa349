"""The host-side driver: runs any agent's `Train` program for a population of seeds in
compiled chunks, feeding metric sinks (progress bar, CSV) between chunks.

Chunking changes nothing in the results: `run(init(k), a + b)` and `run(run(init(k), a), b)`
are bit-identical, so the driver may stop anywhere (to report, evaluate or checkpoint).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import plotting, telemetry
from jaxrl.loops.common import Train, TrainOutput


def chunk_size(num_iterations: int, num_chunks: int) -> int:
    """Iterations per compiled chunk: a divisor of `num_iterations` near num_iterations / num_chunks
    where one exists (so a single program is compiled), else that target."""
    target = max(1, -(-num_iterations // max(1, num_chunks)))
    for size in range(target, 0, -1):
        if num_iterations % size == 0:
            if size * 4 >= target:
                return size
            break
    return target


def population_keys(seed: int, num_seeds: int) -> jax.Array:
    """Member i of the population runs with key `split(key(seed), num_seeds)[i]`."""
    return jax.random.split(jax.random.key(seed), num_seeds)


def run(
    train: Train,
    *,
    num_seeds: int = 1,
    seed: int = 0,
    hparams: Any = None,
    sinks: Sequence[telemetry.Sink] = (),
    num_chunks: int = 50,
) -> TrainOutput:
    """Trains `num_seeds` seeds as one vmapped program, in chunks; returns stacked outputs.

    `hparams` (one setting, or None for the config's defaults) is shared by all seeds; metrics in
    the output have shape [num_seeds, num_iterations].
    """
    if num_seeds < 1:
        raise ValueError(f"num_seeds must be >= 1, got {num_seeds}")
    keys = population_keys(seed, num_seeds)
    init = jax.jit(jax.vmap(train.init, in_axes=(0, None)))
    state = init(keys, hparams)
    size = chunk_size(train.num_iterations, num_chunks)
    compiled: dict[int, Any] = {}
    chunks = []
    done = 0
    while done < train.num_iterations:
        n = min(size, train.num_iterations - done)
        if n not in compiled:
            compiled[n] = jax.jit(jax.vmap(lambda s, n=n: train.run(s, n)))
        state, metrics = compiled[n](state)
        host_metrics = jax.tree.map(np.asarray, metrics)
        for sink in sinks:
            sink.write(host_metrics, done)
        chunks.append(host_metrics)
        done += n
    metrics = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]} if chunks else {}
    return TrainOutput(state, metrics)


def default_run_dir(agent: str, env: str, root: str = "runs") -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join(root, f"{agent}-{env.replace('/', '_')}-{stamp}")


def _jsonable(x: Any) -> Any:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.ndarray, jnp.ndarray)):
        return np.asarray(x).tolist()
    return x


def train_to_dir(
    agent_name: str,
    train: Train,
    run_dir: str,
    *,
    num_seeds: int = 1,
    seed: int = 0,
    progress: bool = True,
    num_chunks: int = 50,
) -> TrainOutput:
    """Runs `train` for `num_seeds` seeds and writes `config.json`, `metrics.csv` (one row per
    iteration and seed) and `learning_curve.png` (mean and spread over seeds) into `run_dir`."""
    os.makedirs(run_dir, exist_ok=True)
    config = train.config
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump({"agent": agent_name, "config": _jsonable(config), "num_seeds": num_seeds, "seed": seed,
                   "num_iterations": train.num_iterations, "jax": jax.__version__,
                   "devices": [str(d) for d in jax.devices()]}, f, indent=2)
    csv_path = os.path.join(run_dir, "metrics.csv")
    sinks: list[telemetry.Sink] = [telemetry.CSVSink(csv_path, seeds=range(num_seeds))]
    total = train.num_iterations * train.steps_per_iteration
    env_name = getattr(config, "env", "")
    sinks.append(telemetry.ProgressBar(total, f"{agent_name} {env_name}", disable=not progress))
    try:
        out = run(train, num_seeds=num_seeds, seed=seed, sinks=sinks, num_chunks=num_chunks)
    finally:
        for sink in sinks:
            sink.close()
    plotting.plot_learning_curve(csv_path, os.path.join(run_dir, "learning_curve.png"),
                                 title=f"{agent_name} on {env_name}")
    return out
