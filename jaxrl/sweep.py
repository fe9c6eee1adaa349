"""Hyperparameter sweeps: settings x seeds as one vmapped program.

A sweep is a list of settings, each a dict `{hparams_field: value}` over any fields of an
agent's `HParams` (`grid` builds the cross product, `random_search` a random sample). Every
setting runs with seeds 0 ... num_seeds - 1, and the whole population (settings x seeds,
flattened setting-major: member m is setting m // num_seeds, seed m % num_seeds) is one
`jax.jit(jax.vmap(train))(keys, hparams)` call, so the sweep compiles once however many
settings it holds. Seed i uses key `driver.population_keys(seed, num_seeds)[i]`, the key of seed
i in `jaxrl train`, so a sweep's row equals the single run with that seed and setting.

    settings = sweep.grid(learning_rate=[1e-4, 3e-4, 1e-3], ent_coef=[0.0, 0.01])
    result = sweep.run(ppo.make_train(config), settings, num_seeds=4)
    result.table        # one row per (setting, seed): fields, seed, final/best return, auc
    result.best         # the setting with the best mean final return
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import matplotlib

matplotlib.use("Agg")  # as in jaxrl.plotting: plots go to files, no display needed
import matplotlib.pyplot as plt
import numpy as np

from jaxrl import driver, telemetry
from jaxrl.loops.common import Train, TrainOutput

Setting = dict[str, float]

# The table's columns after the swept fields, in this order.
SUMMARY_COLUMNS = ("seed", "final_return", "best_return", "auc")
SCALES = ("linear", "log")


def grid(**values: Sequence[float]) -> list[Setting]:
    """The cross product of `field=[v1, v2, ...]` lists, the first field varying slowest.

    `grid(learning_rate=[1e-4, 1e-3], gamma=[0.9, 0.99])` gives four settings:
    (1e-4, 0.9), (1e-4, 0.99), (1e-3, 0.9), (1e-3, 0.99). Field names and values are checked
    against the agent's `HParams` when the sweep runs (`check_settings`).
    """
    if not values:
        raise ValueError("grid needs at least one field=[values], e.g. grid(learning_rate=[1e-4, 1e-3])")
    for field, options in values.items():
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or len(options) == 0:
            raise ValueError(f"grid: {field} must be a non-empty list of values, got {options!r}")
    names = list(values)
    return [dict(zip(names, combination, strict=True)) for combination in itertools.product(*values.values())]


def random_search(num: int, seed: int = 0, **space: Any) -> list[Setting]:
    """`num` settings drawn independently (Bergstra & Bengio 2012) from `field=spec` per field.

    A spec is a tuple `(low, high)` or `(low, high, "linear" | "log")`: uniform in [low, high),
    or log-uniform (uniform in log space; needs low > 0); or a list of values: one of them,
    uniformly. Draws come from `numpy.random.default_rng(seed)`, sample by sample and field by
    field in the order given, so the first k settings of a larger search equal a search of k.
    """
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        raise ValueError(f"random_search: num must be an int >= 1, got {num!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"random_search: seed must be an int (the draws are NumPy's, on the host), got {seed!r}")
    if not space:
        raise ValueError("random_search needs at least one field, e.g. learning_rate=(1e-5, 1e-2, 'log')")
    draws = {field: _sampler(field, spec) for field, spec in space.items()}
    rng = np.random.default_rng(seed)
    return [{field: draw(rng) for field, draw in draws.items()} for _ in range(num)]


def _sampler(field: str, spec: Any):
    """A function `rng -> value` for one field of `random_search`; raises ValueError on a bad spec."""
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"random_search: {field}'s list of choices is empty")
        return lambda rng: spec[int(rng.integers(len(spec)))]
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError(f"random_search: {field} must be (low, high), (low, high, 'linear'|'log') or a list of "
                         f"choices, got {spec!r}")
    low, high, scale = spec if len(spec) == 3 else (*spec, "linear")
    if not (_is_number(low) and _is_number(high) and low < high):
        raise ValueError(f"random_search: {field} needs finite numbers low < high, got {spec!r}")
    if scale not in SCALES:
        raise ValueError(f"random_search: {field}'s scale must be one of {SCALES}, got {scale!r}")
    if scale == "log":
        if low <= 0:
            raise ValueError(f"random_search: {field} on a log scale needs low > 0, got {spec!r}")
        return lambda rng: float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return lambda rng: float(rng.uniform(low, high))


def _is_number(x: Any) -> bool:
    """A finite real scalar (Python or NumPy), not a bool."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        return False
    return math.isfinite(float(x))


def hparams_fields(hparams: Any) -> list[str]:
    """The field names of an agent's `HParams` dataclass."""
    if not dataclasses.is_dataclass(hparams):
        raise TypeError(f"hparams must be an agent's HParams dataclass, got {type(hparams).__name__}")
    return [f.name for f in dataclasses.fields(hparams)]


def check_settings(default_hparams: Any, settings: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The swept fields; raises ValueError on anything a sweep cannot run, before compiling.

    Every setting must name the same fields, each a field of `default_hparams` holding a scalar,
    with a finite number as its value; errors name the field and list the valid fields.
    """
    valid = hparams_fields(default_hparams)
    listing = f"{type(default_hparams).__name__} fields are: {', '.join(valid)}"
    if isinstance(settings, Mapping) or not isinstance(settings, Sequence) or not settings:
        raise ValueError(f"settings must be a non-empty list of {{field: value}} dicts (see grid, random_search), "
                         f"got {settings!r}")
    fields = tuple(settings[0])
    if not fields:
        raise ValueError(f"a sweep needs at least one field to vary; {listing}")
    for i, setting in enumerate(settings):
        if not isinstance(setting, Mapping):
            raise TypeError(f"setting {i} must be a {{field: value}} dict, got {setting!r}")
        if tuple(setting) != fields:
            raise ValueError(f"every setting must sweep the same fields in the same order: setting 0 has "
                             f"{list(fields)}, setting {i} has {list(setting)}")
        for field, value in setting.items():
            if field not in valid:
                raise ValueError(f"unknown hyperparameter {field!r}; {listing}")
            if np.ndim(getattr(default_hparams, field)) != 0:
                raise ValueError(f"hyperparameter {field!r} is not a scalar and cannot be swept; {listing}")
            if not _is_number(value):
                raise ValueError(f"hyperparameter {field!r} must be a finite number, got {value!r} "
                                 f"(setting {i}); {listing}")
    return fields


def check_ranges(config: Any, settings: Sequence[Mapping[str, Any]]) -> None:
    """Runs the agent `Config`'s own range checks on every setting (a ValueError names it).

    Agents keep each hyperparameter's default in a `Config` field of the same name, so
    `dataclasses.replace(config, **setting)` validates it; skipped where the config has no such
    fields (a `Train` built by hand).
    """
    if not dataclasses.is_dataclass(config):
        return
    config_fields = {f.name for f in dataclasses.fields(config)}
    for i, setting in enumerate(settings):
        checked = {k: float(v) for k, v in setting.items() if k in config_fields}
        try:
            dataclasses.replace(config, **checked)
        except ValueError as error:
            raise ValueError(f"setting {i} ({format_setting(setting)}): {error}") from None


def population(
    default_hparams: Any, settings: Sequence[Mapping[str, float]], num_seeds: int, seed: int = 0
) -> tuple[jax.Array, Any]:
    """Keys [S * num_seeds] and `HParams` stacked to match, flattened setting-major.

    Member m runs setting m // num_seeds with key `population_keys(seed, num_seeds)[m % num_seeds]`;
    fields a setting does not name keep `default_hparams`' value. Leaves keep their dtypes.
    """
    driver.check_counts(num_seeds=num_seeds)
    fields = check_settings(default_hparams, settings)
    size = len(settings) * num_seeds
    keys = driver.population_keys(seed, num_seeds)[np.tile(np.arange(num_seeds), len(settings))]
    stacked = {}
    for field in hparams_fields(default_hparams):
        default = np.asarray(getattr(default_hparams, field))
        if field in fields:
            values = np.asarray([setting[field] for setting in settings], dtype=default.dtype)
            stacked[field] = np.repeat(values, num_seeds)
        else:
            stacked[field] = np.broadcast_to(default, (size,) + default.shape).copy()
    return keys, dataclasses.replace(default_hparams, **stacked)


def summarize(episode_return: np.ndarray) -> dict[str, np.ndarray]:
    """Per-member summaries of `episode_return` [members, iterations], in float64.

    - final_return: the last iteration's `episode_return` (the mean return of the episodes that
      ended in that iteration, carried forward from earlier iterations if none did);
    - best_return: the largest `episode_return` over iterations;
    - auc: the mean of `episode_return` over all iterations, the first included (0 until an
      episode has ended): the area under the return-vs-iteration curve divided by the number
      of iterations. Iterations are equally spaced in env steps, so this is also the
      normalised area against env steps.
    """
    returns = np.asarray(episode_return, dtype=np.float64)
    if returns.ndim != 2 or returns.shape[1] == 0:
        raise ValueError(f"episode_return must be [members, iterations >= 1], got shape {returns.shape}")
    return {"final_return": returns[:, -1], "best_return": returns.max(axis=1), "auc": returns.mean(axis=1)}


def best_setting_index(final_return: np.ndarray, num_settings: int, num_seeds: int) -> int:
    """The setting with the highest mean final return over its seeds.

    A setting whose mean is NaN (a diverged seed) ranks last; ties go to the setting that comes
    first in the sweep's order.
    """
    means = np.asarray(final_return, dtype=np.float64).reshape(num_settings, num_seeds).mean(axis=1)
    return int(np.argmax(np.where(np.isnan(means), -np.inf, means)))  # argmax: first of equals


class SweepResult(NamedTuple):
    """A finished sweep.

    Attributes:
      settings: the settings, in the order run.
      fields: the swept `HParams` fields.
      num_seeds: seeds per setting.
      output: the population's `TrainOutput`; leaves lead with S * num_seeds members,
        setting-major (member m: setting m // num_seeds, seed m % num_seeds).
      table: the tidy table, columns of length S * num_seeds in member order: one per swept
        field (the values as given; runs use them cast to the HParams dtype, float32), then
        `seed` (i in 0 ... num_seeds - 1, labelled as in `jaxrl train`'s metrics.csv),
        `final_return`, `best_return`, `auc` (see `summarize`).
      best_index: index in `settings` of the best setting (see `best_setting_index`).
    """

    settings: list[Setting]
    fields: tuple[str, ...]
    num_seeds: int
    output: TrainOutput
    table: dict[str, np.ndarray]
    best_index: int

    @property
    def best(self) -> Setting:
        """The setting with the best mean final return over seeds."""
        return self.settings[self.best_index]

    @property
    def columns(self) -> list[str]:
        return [*self.fields, *SUMMARY_COLUMNS]

    def rows(self) -> list[dict[str, float]]:
        """The table as one dict per (setting, seed), in member order."""
        return [{c: self.table[c][m].item() for c in self.columns} for m in range(len(self.table["seed"]))]

    def curves(self, metric: str = "episode_return") -> np.ndarray:
        """`metric` as [num_settings, num_seeds, num_iterations]."""
        values = np.asarray(self.output.metrics[metric])
        return values.reshape(len(self.settings), self.num_seeds, *values.shape[1:])


def make_table(settings: Sequence[Mapping[str, float]], fields: Sequence[str], num_seeds: int,
               episode_return: np.ndarray) -> dict[str, np.ndarray]:
    """The tidy table of `SweepResult.table` from the population's `episode_return`."""
    table = {f: np.repeat(np.array([float(s[f]) for s in settings]), num_seeds) for f in fields}
    table["seed"] = np.tile(np.arange(num_seeds), len(settings))
    return table | summarize(episode_return)


def run(
    train: Train,
    settings: Sequence[Mapping[str, float]],
    *,
    num_seeds: int = 1,
    seed: int = 0,
    num_chunks: int | None = None,
    sinks: Sequence[telemetry.Sink] = (),
) -> SweepResult:
    """Trains every setting with seeds 0 ... num_seeds - 1 as one vmapped program.

    Settings are checked (names, values, and the agent `Config`'s ranges) before anything
    compiles. With `num_chunks=None` the sweep is the single call
    `jax.jit(jax.vmap(train))(keys, hparams)`; with an int it runs through `driver.run` in about
    that many compiled chunks (init plus one chunk program; identical results), handing each
    chunk's metrics [members, chunk] to `sinks` (e.g. a `telemetry.ProgressBar`); a setting whose
    losses or parameters become NaN there is reported by a warning and trains on.
    """
    fields = check_settings(train.default_hparams, settings)
    check_ranges(train.config, settings)
    keys, hparams = population(train.default_hparams, settings, num_seeds, seed)
    if num_chunks is None and getattr(train, "host_loop", False):
        num_chunks = 1  # host-side envs step outside any compiled program: through the driver
    if num_chunks is None:
        output = jax.jit(jax.vmap(train))(keys, hparams)
        host_metrics = jax.tree.map(np.asarray, output.metrics)
        for sink in sinks:
            sink.write(host_metrics, 0)
        output = TrainOutput(output.state, host_metrics)
    else:
        # A setting that diverges is a result of the sweep, not a reason to stop the others.
        output = driver.run(train, keys=keys, hparams=hparams, hparams_axis=0, sinks=sinks, num_chunks=num_chunks,
                            on_nonfinite="warn")
    settings = [dict(s) for s in settings]
    table = make_table(settings, fields, num_seeds, output.metrics["episode_return"])
    best = best_setting_index(table["final_return"], len(settings), num_seeds)
    return SweepResult(settings, fields, num_seeds, output, table, best)


def format_setting(setting: Mapping[str, float]) -> str:
    """`learning_rate=0.0003, gamma=0.99`."""
    return ", ".join(f"{k}={float(v):g}" for k, v in setting.items())


def write_csv(result: SweepResult, path: str) -> None:
    """`sweep.csv`: a header of `result.columns`, then one row per (setting, seed).

    Floats are written with `repr`, so reading them back gives the table's values exactly.
    """
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(result.columns)
        for row in result.rows():
            writer.writerow([repr(v) if isinstance(v, float) else v for v in row.values()])


def plot_curves(result: SweepResult, png_path: str, title: str = "", metric: str = "episode_return") -> None:
    """One learning curve per setting against env steps: the mean over seeds, min-max shaded."""
    curves = result.curves(metric)
    step_metric = "env_steps" if "env_steps" in result.output.metrics else "learner_steps"
    steps = np.asarray(result.output.metrics[step_metric])[0]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for i, setting in enumerate(result.settings):
        label = format_setting(setting) + ("  (best)" if i == result.best_index else "")
        (line,) = ax.plot(steps, curves[i].mean(axis=0), label=label, lw=2.2 if i == result.best_index else 1.2)
        if result.num_seeds > 1:
            ax.fill_between(steps, curves[i].min(axis=0), curves[i].max(axis=0), color=line.get_color(), alpha=0.15)
    ax.set_xlabel("environment steps" if step_metric == "env_steps" else step_metric.replace("_", " "))
    ax.set_ylabel(metric.replace("_", " "))
    spread = f", min-max over {result.num_seeds} seeds shaded" if result.num_seeds > 1 else ""
    ax.set_title(f"{title}\nmean over seeds{spread}" if title else f"mean over seeds{spread}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=7, ncol=1 + len(result.settings) // 12)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


def default_run_dir(agent: str, env: str, root: str = "runs") -> str:
    """`runs/sweep-<agent>-<env>-<time>`."""
    return driver.default_run_dir(f"sweep-{agent}", env, root)


def write_run_config(run_dir: str, agent_name: str, train: Train, settings: Sequence[Mapping[str, float]], *,
                     num_seeds: int, seed: int, overwrite: bool = False, num_chunks: int | None = None,
                     **extra: Any) -> None:
    """`run_dir/config.json` of a population run (a sweep, PBT): agent, config, settings, seeds,
    `extra` (e.g. PBT's options), versions and devices; creates `run_dir`. A `run_dir` that already
    holds a run is refused (`driver.RunDirError`) unless `overwrite`. A `num_seeds` or
    `num_chunks` (the run's, checked here and not recorded) below 1 raises ValueError first."""
    driver.check_counts(num_seeds=num_seeds)
    driver.check_counts(optional=True, num_chunks=num_chunks)
    driver.refuse_existing_run(run_dir, overwrite)
    os.makedirs(run_dir, exist_ok=True)
    config = train.config
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump({"agent": agent_name, "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config)
                   else None, "settings": [{k: float(v) for k, v in s.items()} for s in settings],
                   "num_seeds": num_seeds, "seed": seed, "num_iterations": train.num_iterations, **extra,
                   "jax": jax.__version__, "devices": [str(d) for d in jax.devices()],
                   "time": datetime.datetime.now().isoformat(timespec="seconds")}, f, indent=2)


def population_progress_bar(kind: str, agent_name: str, train: Train, settings: Sequence[Mapping[str, float]],
                            num_seeds: int, progress: bool) -> telemetry.ProgressBar:
    """The progress bar of a population run (`kind`: "sweep", "pbt") over `train`'s steps."""
    env_name = getattr(train.config, "env", "")
    return telemetry.ProgressBar(driver.progress_total(train),
                                 f"{kind} {agent_name} {env_name} ({len(settings)}x{num_seeds})", disable=not progress,
                                 step_metric=train.step_metric)


def sweep_to_dir(
    agent_name: str,
    train: Train,
    settings: Sequence[Mapping[str, float]],
    run_dir: str,
    *,
    num_seeds: int = 1,
    seed: int = 0,
    progress: bool = True,
    num_chunks: int | None = 50,
    overwrite: bool = False,
) -> SweepResult:
    """Runs the sweep (`run`) with a progress bar and writes into `run_dir`: `config.json` (agent,
    config, settings, seeds), `sweep.csv` (`write_csv`) and `sweep.png` (`plot_curves`); a
    `run_dir` that holds another run is refused unless `overwrite`."""
    check_settings(train.default_hparams, settings)
    check_ranges(train.config, settings)
    write_run_config(run_dir, agent_name, train, settings, num_seeds=num_seeds, seed=seed, overwrite=overwrite,
                     num_chunks=num_chunks)
    bar = population_progress_bar("sweep", agent_name, train, settings, num_seeds, progress)
    try:
        result = run(train, settings, num_seeds=num_seeds, seed=seed, num_chunks=num_chunks, sinks=[bar])
    finally:
        bar.close()
    write_csv(result, os.path.join(run_dir, "sweep.csv"))
    plot_curves(result, os.path.join(run_dir, "sweep.png"), title=f"{agent_name} on {getattr(train.config, 'env', '')}")
    return result
