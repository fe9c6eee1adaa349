"""Population-based training (Jaderberg et al. 2017, "Population Based Training of Neural
Networks", arXiv:1711.09846) inside the compiled program.

A population (settings x seeds, as in `jaxrl.sweep`) trains as one vmapped program; every
`ready_every` iterations its members are ranked by a fitness (their mean `episode_return` over
those iterations, or a greedy evaluation), and each member of the bottom `fraction` takes the whole
agent state (parameters, optimiser state, target networks) and the hyperparameters of a member
drawn uniformly from the top `fraction` (exploit), then multiplies each `perturb`ed hyperparameter
by a factor drawn from `factors`, kept within the agent Config's range for that field, or with
probability `resample` draws it anew within that range (explore).
The environment, replay and actor states stay the member's own unless `also_copy` names them.
Learning rates live in the hyperparameters only (every optimiser step reads them from there), so
a copied and perturbed learning rate is the one the next update uses.

    settings = sweep.grid(learning_rate=[1e-5, 1e-4, 1e-3, 1e-2])
    result = pbt.run(ppo.make_train(config), settings, num_seeds=2, ready_every=10,
                     perturb=("learning_rate",))
    result.table        # one row per member: its final hyperparameters and final return
    result.lineage      # per generation and member: the hyperparameters it trained with, its
                        # fitness, and the member whose state it takes for the next generation

The exploit and explore draws come from the run's own key folded with the generation, so a run in
chunks of generations (`PBTTrain.run`) equals one call, and a checkpoint of the `PBTState` resumes
exactly. All members sit at the same iteration, as in any population of `jax.vmap(train)`.

Over devices (`shard`, or `run(..., mesh=...)`), the population axis is split over a 1-D mesh as
`jaxrl.distributed` splits a sweep's: each device trains its own members, and only the select step
between generations moves data (the fitnesses, and the copied members' state, which XLA's SPMD
partitioner gathers from whichever device holds the parent). Members compute what they compute
unsharded: tests/test_distributed.py finds PPO's run, lineage and final state equal bit for bit.
"""

from __future__ import annotations

import csv
import functools
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxrl import distributed, driver, sweep, telemetry
from jaxrl.loops.common import Train, TrainState
from jaxrl.types import Array, Metrics, PRNGKey

COPYABLE = ("actor_state", "buffer_state", "env_state")
FITNESS = ("return", "eval")


@flax.struct.dataclass
class PBTState:
    """A PBT run's state: the population's `TrainState` (leaves [members, ...]), the key of the
    exploit and explore draws, and the generations done."""

    population: TrainState
    key: PRNGKey
    generation: Array


class PBTOutput(NamedTuple):
    """A finished PBT program: its state, the population's metrics [members, iterations] and the
    lineage, each leaf [generations, members] (see `PBTTrain.run`)."""

    state: PBTState
    metrics: Metrics
    lineage: dict[str, Array]


def exploit(key: PRNGKey, fitness: Array, fraction: float) -> Array:
    """Truncation selection: parents [P], `parents[m]` the member whose state member m continues
    from: for the round(fraction * P) members of lowest fitness, one of as many members of highest
    fitness drawn uniformly (with replacement); every other member itself. NaN ranks lowest; ties
    keep the population's order (argsort is stable)."""
    size = fitness.shape[0]
    count = num_exploited(size, fraction)
    order = jnp.argsort(jnp.where(jnp.isnan(fitness), -jnp.inf, fitness))
    donors = order[size - count:][jax.random.randint(key, (count,), 0, count)]
    return jnp.arange(size).at[order[:count]].set(donors)


def num_exploited(size: int, fraction: float) -> int:
    """Members replaced per generation: round(fraction * size), at least 1, at most size // 2."""
    return min(max(1, int(round(fraction * size))), size // 2)


def copy_members(tree: Any, parents: Array) -> Any:
    """`tree` (leaves [P, ...]) with member m's leaves replaced by member `parents[m]`'s."""
    return jax.tree.map(lambda x: jnp.take(x, parents, axis=0), tree)


def explore(key: PRNGKey, hparams: Any, replaced: Array, fields: Sequence[str], factors: Sequence[float],
            bounds: Mapping[str, tuple[float, float]], resample: float = 0.0) -> Any:
    """`hparams` (leaves [P]) with each of `fields` of the `replaced` [P] members multiplied by one
    of `factors` drawn uniformly (per member and field), then clipped into `bounds[field]`; with
    probability `resample` (per member and field) drawn anew instead, uniformly in `bounds[field]`
    (Jaderberg et al.'s "resample"; the bounds must then be finite)."""
    choices = jnp.asarray(factors, jnp.float32)
    changed = {}
    for i, field in enumerate(fields):
        value = getattr(hparams, field)
        factor = choices[jax.random.randint(jax.random.fold_in(key, i), value.shape, 0, len(factors))]
        low, high = bounds[field]
        perturbed = jnp.clip(value * factor.astype(value.dtype), low, high).astype(value.dtype)
        if resample > 0.0:  # (keys of their own: the factors are those drawn without resampling)
            coin_key, draw_key = jax.random.split(jax.random.fold_in(key, len(fields) + i))
            fresh = jnp.clip(jax.random.uniform(draw_key, value.shape, jnp.float32, low, high), low, high)
            perturbed = jnp.where(jax.random.bernoulli(coin_key, resample, value.shape), fresh.astype(value.dtype),
                                  perturbed)
        changed[field] = jnp.where(replaced, perturbed, value)
    return hparams.replace(**changed)


def check_population_size(size: int, detail: str = "") -> None:
    """ValueError unless a population has the 2 members that exploiting one from another needs;
    `detail` says where the count comes from. `pbt_to_dir` checks before writing its directory,
    `PBTTrain.init` for callers of the program itself."""
    if size < 2:
        raise ValueError(f"pbt: a population needs at least 2 members, got {size}{detail}")


def field_bounds(config: Any, fields: Sequence[str]) -> dict[str, tuple[float, float]]:
    """{field: (low, high)} from `config`'s declared ranges (an open end moved to the next float32
    inside it); ValueError naming a field without a numeric range."""
    ranges = type(config).all_ranges() if config is not None else {}
    bounds = {}
    for field in fields:
        allowed = ranges.get(field)
        if allowed is None or not hasattr(allowed, "low"):
            raise ValueError(f"pbt: perturb field {field!r} has no numeric range in {type(config).__name__} "
                             f"to keep it in")
        low = np.float32(allowed.low)
        if allowed.low_open:
            low = np.nextafter(low, np.float32(np.inf))
        high = np.float32(allowed.high)
        if allowed.high_open:
            high = np.nextafter(high, np.float32(-np.inf))
        bounds[field] = (float(low), float(high))
    return bounds


class PBTTrain:
    """PBT around a `Train`: `pbt_train(keys, hparams, key) -> PBTOutput` (jit it), split as
    `init(keys, hparams, key)` and `run(state, num_generations)` like `Train`.

    Args:
      train: any agent's `Train` (a vmapped population of it is what PBT runs).
      ready_every: iterations per generation; must divide `train.num_iterations`.
      perturb: the `HParams` fields explore perturbs (each with a numeric range in the Config).
      fraction: share of the population exploited each generation (bottom copies top).
      factors: the factors explore multiplies a perturbed field by.
      resample: the probability that explore instead draws a perturbed field anew, uniformly within
        the Config's range for it (which must then be bounded, as `gamma`'s [0, 1]; 0: never).
      fitness: "return", the mean `episode_return` over the generation's iterations, or "eval",
        the greedy evaluation (`train.evaluate`; offline agents have no training return).
      also_copy: TrainState fields copied with the agent state ("actor_state", "buffer_state",
        "env_state"); by default a member keeps its own.
    """

    def __init__(self, train: Train, *, ready_every: int, perturb: Sequence[str], fraction: float = 0.25,
                 factors: Sequence[float] = (0.8, 1.2), resample: float = 0.0, fitness: str = "return",
                 also_copy: Sequence[str] = ()):
        if getattr(train, "host_loop", False):
            raise ValueError("pbt: exploit and explore run inside one compiled program, which host-side environments "
                             "(gymnasium/..., envpool/...) step outside of; use a gymnax or brax environment")
        if isinstance(ready_every, bool) or not isinstance(ready_every, int) or ready_every < 1:
            raise ValueError(f"pbt: ready_every must be an int >= 1, got {ready_every!r}")
        if train.num_iterations % ready_every:
            divisors = [d for d in range(1, train.num_iterations + 1) if train.num_iterations % d == 0]
            nearest = sorted({max((d for d in divisors if d < ready_every), default=None),
                              min((d for d in divisors if d > ready_every), default=None)} - {None})
            raise ValueError(f"pbt: ready_every ({ready_every}) must divide the run's {train.num_iterations} "
                             f"iterations (the nearest that do: {', '.join(map(str, nearest))})")
        if not 0.0 < fraction <= 0.5:
            raise ValueError(f"pbt: fraction must be in (0, 0.5], got {fraction!r}")
        if not factors or any(not math.isfinite(f) or f <= 0 for f in factors):
            raise ValueError(f"pbt: factors must be positive numbers, got {tuple(factors)!r}")
        if isinstance(resample, bool) or not isinstance(resample, (int, float)) or not 0.0 <= resample <= 1.0:
            raise ValueError(f"pbt: resample must be a probability in [0, 1], got {resample!r}")
        if fitness not in FITNESS:
            raise ValueError(f"pbt: fitness must be one of {FITNESS}, got {fitness!r}")
        if fitness == "eval" and train.evaluate is None:
            raise ValueError("pbt: fitness='eval' needs a program with a greedy evaluation (train.evaluate)")
        unknown = sorted(set(also_copy) - set(COPYABLE))
        if unknown:
            raise ValueError(f"pbt: also_copy takes {COPYABLE}, got {unknown}")
        perturb = tuple(perturb)
        if not perturb:
            raise ValueError("pbt: perturb must name at least one HParams field")
        sweep.check_settings(train.default_hparams, [{field: 0.0 for field in perturb}])
        self.train = train
        self.ready_every = ready_every
        self.perturb = perturb
        self.bounds = field_bounds(train.config, perturb)
        unbounded = [field for field, (low, high) in self.bounds.items() if not math.isfinite(low + high)]
        if resample > 0.0 and unbounded:
            raise ValueError(f"pbt: resample draws a field anew within the Config's range, which is unbounded for "
                             f"{', '.join(map(repr, unbounded))}; perturb such fields with resample=0")
        self.resample = float(resample)
        self.fraction = fraction
        self.factors = tuple(float(f) for f in factors)
        self.fitness = fitness
        self.also_copy = tuple(also_copy)
        self.num_generations = train.num_iterations // ready_every
        self.__name__ = self.__qualname__ = "pbt_train"

    def init(self, keys: Array, hparams: Any, key: PRNGKey) -> PBTState:
        """The population's `TrainState`s from `keys` [P] and `hparams` (leaves [P]); `key` draws
        PBT's own choices."""
        check_population_size(keys.shape[0])
        population = jax.vmap(self.train.init)(keys, hparams)
        return PBTState(population=population, key=key, generation=jnp.zeros((), jnp.int32))

    def generation(self, state: PBTState) -> tuple[PBTState, tuple[Metrics, dict[str, Array]]]:
        """`ready_every` iterations of every member, then (unless it was the run's last
        generation) `select`. Returns the metrics [P, ready_every] and the generation's lineage."""
        population, metrics = jax.vmap(lambda s: self.train.run(s, self.ready_every))(state.population)
        last = state.generation + 1 >= self.num_generations
        population, record = self.select(population, metrics, jax.random.fold_in(state.key, state.generation), last)
        return PBTState(population=population, key=state.key, generation=state.generation + 1), (metrics, record)

    def select(self, population: TrainState, metrics: Metrics, key: PRNGKey,
               last: Array | bool = False) -> tuple[TrainState, dict[str, Array]]:
        """Exploit and explore on a population at the end of a generation whose metrics [P, T]
        are `metrics`; with `last`, every member keeps its own. Returns the next population and the
        lineage record: each member's perturbed hyperparameters as trained, its fitness, and its
        parent (the member whose state it continues from in the next generation: itself unless
        exploited)."""
        select_key, perturb_key, eval_key = jax.random.split(key, 3)
        if self.fitness == "return":
            fitness = jnp.mean(metrics["episode_return"], axis=1)
        else:
            size = population.iteration.shape[0]
            fitness = jax.vmap(self.train.evaluate)(population, jax.random.split(eval_key, size))
        members = jnp.arange(fitness.shape[0])
        parents = jnp.where(last, members, exploit(select_key, fitness, self.fraction))
        record = {field: getattr(population.hparams, field) for field in self.perturb}
        record.update(fitness=fitness, parent=parents)
        copied = {"agent_state": copy_members(population.agent_state, parents),
                  **{field: copy_members(getattr(population, field), parents) for field in self.also_copy}}
        hparams = explore(perturb_key, copy_members(population.hparams, parents), parents != members, self.perturb,
                          self.factors, self.bounds, self.resample)
        return population.replace(hparams=hparams, **copied), record

    def run(self, state: PBTState, num_generations: int) -> tuple[PBTState, Metrics, dict[str, Array]]:
        """`num_generations` more generations (a static int): the state, the metrics [P,
        num_generations * ready_every] and the lineage, leaves [num_generations, P]."""
        if isinstance(num_generations, bool) or not isinstance(num_generations, int) or num_generations < 0:
            raise ValueError(f"num_generations must be a non-negative Python int, got {num_generations!r}")
        state, (metrics, lineage) = jax.lax.scan(lambda s, _: self.generation(s), state, None,
                                                 length=num_generations)
        # [generations, P, ready_every] -> [P, generations * ready_every]
        metrics = jax.tree.map(lambda x: jnp.moveaxis(x, 0, 1).reshape((x.shape[1], -1) + x.shape[3:]), metrics)
        return state, metrics, lineage

    def __call__(self, keys: Array, hparams: Any, key: PRNGKey) -> PBTOutput:
        return PBTOutput(*self.run(self.init(keys, hparams, key), self.num_generations))


def shard(pbt_train: PBTTrain, mesh: Mesh | None = None) -> tuple[Any, Any]:
    """`(init, run)` of `pbt_train` with the population split over `mesh`'s one axis (default:
    every device of every process), as `distributed.population_train` splits a sweep's.

    `init(keys, hparams, key)` takes the population's keys [P] and stacked hparams (P a multiple
    of the mesh size; ValueError otherwise) and places them as global arrays; `run(state,
    num_generations)` is `PBTTrain.run`, jitted with the population and its metrics kept split and
    PBT's key, generation count and lineage replicated. Each member computes what it computes
    unsharded (as in `population_train`, a device's smaller batch may round a matmul differently).
    `distributed.gather` brings the outputs to every host."""
    mesh = distributed.make_mesh() if mesh is None else mesh
    (axis,) = mesh.axis_names
    split, replicated = NamedSharding(mesh, P(axis)), NamedSharding(mesh, P())
    # Shardings as pytree prefixes: every leaf of `population` split, the rest replicated.
    state_sharding = PBTState(population=split, key=replicated, generation=replicated)
    place = jax.jit(lambda keys, hparams, key: pbt_train.init(jax.random.wrap_key_data(keys), hparams,
                                                              jax.random.wrap_key_data(key)),
                    out_shardings=state_sharding)
    run = jax.jit(pbt_train.run, static_argnums=1, out_shardings=(state_sharding, split, replicated))

    def init(keys: Array, hparams: Any, key: PRNGKey) -> PBTState:
        key_data, hparams = distributed.place_population(mesh, keys, hparams, stacked=True)
        return place(key_data, hparams, distributed.global_array(np.asarray(jax.random.key_data(key)), replicated))

    return init, run


class PBTResult(NamedTuple):
    """A finished `pbt.run`.

    Attributes:
      settings, fields, num_seeds: the starting settings, their fields and seeds per setting
        (member m starts from setting m // num_seeds with seed m % num_seeds, as in a sweep).
      perturb: the fields explore perturbed.
      output: the `PBTOutput` (metrics and lineage as host arrays).
      table: one row per member: each swept or perturbed field's final value, `start` (its
        starting setting's index), `seed`, `final_return`, `best_return`, `auc` (`sweep.summarize`).
      lineage: one row per (generation, member): `generation`, `member`, the perturbed fields'
        values it trained with, `fitness`, `parent` (the member whose state and hyperparameters it
        takes at the generation's end, for the next one: itself unless exploited, and in the last).
    """

    settings: list[dict[str, float]]
    fields: tuple[str, ...]
    num_seeds: int
    perturb: tuple[str, ...]
    output: PBTOutput
    table: dict[str, np.ndarray]
    lineage: dict[str, np.ndarray]


def run(train: Train, settings: Sequence[Mapping[str, float]], *, num_seeds: int = 1, ready_every: int,
        perturb: Sequence[str], seed: int = 0, mesh: Mesh | None = None, num_chunks: int | None = None,
        sinks: Sequence[telemetry.Sink] = (), **options: Any) -> PBTResult:
    """PBT over the population `settings` x `num_seeds` (built as `sweep.run` builds it: the same
    keys and hparams), as one compiled program; `options` go to `PBTTrain` (fraction, factors,
    resample, fitness, also_copy). With a `mesh` the population is split over its devices (`shard`; the same
    results). Settings are checked before anything compiles.

    With `num_chunks` the generations run in about that many compiled chunks of whole generations
    (`driver.chunk_size`; the same results as one call), each chunk's metrics [members, its
    iterations] handed to `sinks` (e.g. a `telemetry.ProgressBar`); without, `sinks` get them all
    at the end."""
    fields = sweep.check_settings(train.default_hparams, settings)
    sweep.check_ranges(train.config, settings)
    pbt_train = PBTTrain(train, ready_every=ready_every, perturb=perturb, **options)
    if num_chunks is not None and (isinstance(num_chunks, bool) or not isinstance(num_chunks, int) or num_chunks < 1):
        raise ValueError(f"pbt: num_chunks must be an int >= 1 or None, got {num_chunks!r}")
    keys, hparams = sweep.population(train.default_hparams, settings, num_seeds, seed)
    key = jax.random.fold_in(jax.random.key(seed), 0x5EB)
    to_host = functools.partial(jax.tree.map, np.asarray) if mesh is None else distributed.gather
    if num_chunks is None and mesh is None:
        output = jax.jit(pbt_train)(keys, hparams, key)
        output = PBTOutput(output.state, to_host(output.metrics), to_host(output.lineage))
        for sink in sinks:
            sink.write(output.metrics, 0)
    else:
        if mesh is None:
            init, run_generations = jax.jit(pbt_train.init), jax.jit(pbt_train.run, static_argnums=1)
        else:
            init, run_generations = shard(pbt_train, mesh)  # to_host gathers from every process's devices
        total = pbt_train.num_generations
        size = total if num_chunks is None else driver.chunk_size(total, num_chunks)
        state, metrics, lineage = init(keys, hparams, key), [], []
        for start in range(0, total, size):
            state, chunk_metrics, chunk_lineage = run_generations(state, min(size, total - start))
            metrics.append(to_host(chunk_metrics))
            lineage.append(to_host(chunk_lineage))
            for sink in sinks:
                sink.write(metrics[-1], start * ready_every)
        output = PBTOutput(state, jax.tree.map(lambda *x: np.concatenate(x, axis=1), *metrics),
                           jax.tree.map(lambda *x: np.concatenate(x, axis=0), *lineage))
    size = len(settings) * num_seeds
    final_hparams = to_host(output.state.population.hparams)
    table = {f: np.asarray(getattr(final_hparams, f), np.float64) for f in dict.fromkeys((*fields, *pbt_train.perturb))}
    table["start"] = np.repeat(np.arange(len(settings)), num_seeds)
    table["seed"] = np.tile(np.arange(num_seeds), len(settings))
    table |= sweep.summarize(output.metrics["episode_return"])
    generations = output.lineage["parent"].shape[0]
    lineage = {"generation": np.repeat(np.arange(generations), size), "member": np.tile(np.arange(size), generations)}
    for column in (*pbt_train.perturb, "fitness", "parent"):  # (a dict pytree's leaves come sorted)
        lineage[column] = np.asarray(output.lineage[column]).reshape(-1)
    return PBTResult([dict(s) for s in settings], fields, num_seeds, pbt_train.perturb, output, table, lineage)


def write_csv(table: Mapping[str, np.ndarray], path: str) -> None:
    """`table` (equal-length columns) as a CSV file, written atomically."""
    columns = list(table)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for i in range(len(table[columns[0]])):
            writer.writerow([np.asarray(table[c][i]).item() for c in columns])
    os.replace(tmp, path)


def plot(result: PBTResult, png_path: str, title: str = "") -> None:
    """Every member's return against env steps (coloured by its starting setting), and below it
    each perturbed hyperparameter of every member against generations (log scale where positive)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    returns = np.asarray(result.output.metrics["episode_return"])
    step_metric = "env_steps" if "env_steps" in result.output.metrics else "learner_steps"
    steps = np.asarray(result.output.metrics[step_metric])[0]
    rows = 1 + len(result.perturb)
    fig, axes = plt.subplots(rows, 1, figsize=(7, 2.6 * rows), dpi=110, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for member, curve in enumerate(returns):
        start = int(result.table["start"][member])
        label = sweep.format_setting(result.settings[start]) if member % result.num_seeds == 0 else None
        axes[0, 0].plot(steps, curve, color=colours[start % len(colours)], lw=1, label=label)
    axes[0, 0].set_ylabel("episode return")
    axes[0, 0].set_xlabel("environment steps" if step_metric == "env_steps" else step_metric.replace("_", " "))
    axes[0, 0].legend(loc="best", fontsize=7, title="started from", title_fontsize=7)
    axes[0, 0].set_title(f"{title}\nPBT: {len(returns)} members" if title else f"PBT: {len(returns)} members",
                         fontsize=9)
    generations = int(result.lineage["generation"].max()) + 1
    for row, field in enumerate(result.perturb, start=1):
        values = result.lineage[field].reshape(generations, -1)
        ax = axes[row, 0]
        for member in range(values.shape[1]):
            start = int(result.table["start"][member])
            ax.plot(np.arange(generations), values[:, member], color=colours[start % len(colours)], lw=1, alpha=0.8)
        if np.all(values > 0):
            ax.set_yscale("log")
        ax.set_ylabel(field.replace("_", " "), fontsize=8)
        ax.set_xlabel("generation (the value each member trained with)", fontsize=8)
    for ax in axes[:, 0]:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


def default_run_dir(agent: str, env: str, root: str = "runs") -> str:
    """`runs/pbt-<agent>-<env>-<time>`."""
    return driver.default_run_dir(f"pbt-{agent}", env, root)


def pbt_to_dir(agent_name: str, train: Train, settings: Sequence[Mapping[str, float]], run_dir: str, *,
               num_seeds: int = 1, seed: int = 0, ready_every: int, perturb: Sequence[str],
               progress: bool = True, num_chunks: int | None = 50, overwrite: bool = False,
               **options: Any) -> PBTResult:
    """`run` with a progress bar (`num_chunks` chunks of generations at most) into `run_dir`:
    `config.json` (agent, config, settings, seeds and PBT's options), `pbt.csv`
    (`PBTResult.table`), `lineage.csv` (`PBTResult.lineage`) and `pbt.png` (`plot`); a `run_dir`
    that holds another run is refused unless `overwrite`."""
    sweep.check_settings(train.default_hparams, settings)
    sweep.check_ranges(train.config, settings)
    PBTTrain(train, ready_every=ready_every, perturb=perturb, **options)  # its checks, before anything runs
    driver.check_counts(num_seeds=num_seeds)  # (an int, before it counts the members)
    check_population_size(len(settings) * num_seeds, f" ({len(settings)} setting(s) x {num_seeds} seed(s))")
    sweep.write_run_config(run_dir, agent_name, train, settings, num_seeds=num_seeds, seed=seed, overwrite=overwrite,
                           num_chunks=num_chunks, pbt=dict(ready_every=ready_every, perturb=list(perturb), **options))
    bar = sweep.population_progress_bar("pbt", agent_name, train, settings, num_seeds, progress)
    try:
        result = run(train, settings, num_seeds=num_seeds, seed=seed, ready_every=ready_every, perturb=perturb,
                     num_chunks=num_chunks, sinks=[bar], **options)
    finally:
        bar.close()
    write_csv(result.table, os.path.join(run_dir, "pbt.csv"))
    write_csv(result.lineage, os.path.join(run_dir, "lineage.csv"))
    plot(result, os.path.join(run_dir, "pbt.png"), title=f"{agent_name} on {getattr(train.config, 'env', '')}")
    return result


__all__ = ["COPYABLE", "FITNESS", "PBTOutput", "PBTResult", "PBTState", "PBTTrain", "check_population_size",
           "copy_members", "default_run_dir", "exploit", "explore", "field_bounds", "num_exploited", "pbt_to_dir",
           "plot", "run", "shard", "write_csv"]
