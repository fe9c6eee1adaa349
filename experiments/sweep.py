"""Sweep an agent's hyperparameters from the command line: settings x seeds as one vmapped program.

    python -m experiments.sweep ppo --env CartPole-v1 --grid learning_rate=1e-4,3e-4,1e-3 --num-seeds 4
    python -m experiments.sweep ppo --grid learning_rate=1e-4,1e-3 --grid ent_coef=0,0.01 --total-timesteps 100000
    python -m experiments.sweep ppo --random learning_rate=1e-5:1e-2:log --random gamma=0.9:0.999 --num-samples 16

`--grid FIELD=V1,V2,...` (repeatable) sweeps the cross product; `--random FIELD=LOW:HIGH[:log]` or
`--random FIELD=V1,V2,...` (repeatable) draws `--num-samples` settings instead. FIELD is any field
of the agent's HParams; every other option is the agent's Config, as in `experiments.train`.
The run directory (`--run-dir`, default runs/sweep-<agent>-<env>-<time>) receives config.json,
sweep.csv (one row per setting and seed) and sweep.png (learning curves per setting).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Annotated, Any

import numpy as np
import tyro

from experiments.train import AGENTS, parse_command
from jaxrl import sweep


@dataclasses.dataclass(frozen=True)
class SweepOptions:
    grid: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """FIELD=V1,V2,... over an HParams field; the settings are the cross product."""
    random: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """FIELD=LOW:HIGH[:linear|log] or FIELD=V1,V2,... (choices); draws --num-samples settings."""
    num_samples: int = 8
    """Settings drawn by --random."""
    search_seed: int = 0
    """Seed of the --random draws."""
    num_seeds: int = 1
    """Seeds per setting; seed i equals seed i of experiments.train."""
    seed: int = 0
    """Base seed; seed i uses jax.random.split(key(seed), num_seeds)[i]."""
    run_dir: str | None = None
    """Where to write config.json, sweep.csv and sweep.png (default runs/sweep-<agent>-<env>-<time>)."""
    progress: bool = True
    """Show a progress bar."""
    num_chunks: int = 50
    """Compiled chunks the sweep is split into (progress updates); results do not depend on it."""


def _number(text: str) -> float | str:
    """`text` as a float, or unchanged (`sweep.check_settings` then names the field)."""
    try:
        return float(text)
    except ValueError:
        return text


def _split_entry(entry: str, flag: str) -> tuple[str, str]:
    """`FIELD=SPEC` -> (field, spec); dashes in FIELD read as underscores."""
    field, sep, spec = entry.partition("=")
    if not sep or not field or not spec:
        raise ValueError(f"{flag} expects FIELD=VALUES, got {entry!r}")
    return field.strip().replace("-", "_"), spec.strip()


def parse_grid(entries: tuple[str, ...]) -> dict[str, list[float | str]]:
    """`("learning_rate=1e-4,3e-4", "gamma=0.99")` -> `{"learning_rate": [1e-4, 3e-4], "gamma": [0.99]}`."""
    values: dict[str, list[float | str]] = {}
    for entry in entries:
        field, spec = _split_entry(entry, "--grid")
        if field in values:
            raise ValueError(f"--grid names {field} twice")
        values[field] = [_number(v.strip()) for v in spec.split(",")]
    return values


def parse_random(entries: tuple[str, ...]) -> dict[str, Any]:
    """`FIELD=LOW:HIGH[:SCALE]` -> a range, `FIELD=V1,V2,...` -> choices, for `sweep.random_search`."""
    space: dict[str, Any] = {}
    for entry in entries:
        field, spec = _split_entry(entry, "--random")
        if field in space:
            raise ValueError(f"--random names {field} twice")
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) not in (2, 3):
                raise ValueError(f"--random {field} expects LOW:HIGH[:linear|log], got {spec!r}")
            space[field] = (*(_number(p) for p in parts[:2]), *parts[2:])
        else:
            space[field] = [_number(v.strip()) for v in spec.split(",")]
    return space


def settings_from_options(options: SweepOptions) -> list[sweep.Setting]:
    """The settings that `--grid` or `--random` asks for; ValueError when neither or both."""
    if bool(options.grid) == bool(options.random):
        raise ValueError("give --grid FIELD=V1,V2,... (cross product) or --random FIELD=LOW:HIGH[:log] "
                         "(random search), not both or neither")
    if options.grid:
        return sweep.grid(**parse_grid(options.grid))
    return sweep.random_search(options.num_samples, options.search_seed, **parse_random(options.random))


def parse(argv: list[str] | None = None, prog: str = "python -m experiments.sweep") -> tuple[str, Any, SweepOptions]:
    """`AGENT [options]` -> (agent name, its Config, SweepOptions)."""
    return parse_command(argv, prog, SweepOptions, "--grid FIELD=V1,V2,... [options]", kind="Sweep")


def main(argv: list[str] | None = None) -> sweep.SweepResult:
    name, config, options = parse(argv)
    _, make_train = AGENTS[name]
    try:
        settings = settings_from_options(options)
        # Names, values and ranges are checked on the config alone, before building anything.
        sweep.check_settings(config.hparams(), settings)
        sweep.check_ranges(config, settings)
        train = make_train(config)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    run_dir = options.run_dir or sweep.default_run_dir(name, config.env)
    result = sweep.sweep_to_dir(name, train, settings, run_dir, num_seeds=options.num_seeds, seed=options.seed,
                                progress=options.progress, num_chunks=options.num_chunks)
    final = result.table["final_return"].reshape(len(settings), options.num_seeds)
    auc = result.table["auc"].reshape(len(settings), options.num_seeds)
    for i, setting in enumerate(result.settings):
        mark = "*" if i == result.best_index else " "
        print(f"{mark} {sweep.format_setting(setting)}: final return {final[i].mean():.1f} "
              f"(min {final[i].min():.1f}, max {final[i].max():.1f}), auc {auc[i].mean():.1f}")
    best = result.best_index
    print(f"best setting: {sweep.format_setting(result.best)} (mean final return {np.mean(final[best]):.1f} over "
          f"{options.num_seeds} seed(s)); wrote {run_dir}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
