"""Train an agent from the command line.

    python -m experiments.train ppo --env CartPole-v1 --total-timesteps 500000 --num-seeds 8

Seeds run as one vmapped program; a progress bar follows the compiled chunks; the run directory
(`--run-dir`, default runs/<agent>-<env>-<time>) receives config.json, metrics.csv and
learning_curve.png.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, Callable

import numpy as np
import tyro

from jaxrl import driver
from jaxrl.agents import dqn, ppo


@dataclasses.dataclass(frozen=True)
class RunOptions:
    num_seeds: int = 1
    """Seeds to train, as one vmapped program."""
    seed: int = 0
    """Base seed; seed i of the population uses jax.random.split(key(seed), num_seeds)[i]."""
    run_dir: str | None = None
    """Where to write config.json, metrics.csv and learning_curve.png (default runs/<agent>-<env>-<time>)."""
    progress: bool = True
    """Show a progress bar."""
    num_chunks: int = 50
    """Compiled chunks the run is split into (progress updates); results do not depend on it."""


# Each agent: its Config class and make_train. New agents add one line here.
AGENTS: dict[str, tuple[type, Callable[[Any], Any]]] = {
    "ppo": (ppo.Config, ppo.make_train),
    "dqn": (dqn.Config, dqn.make_train),
}


def _command_type(name: str, config_cls: type) -> type:
    return dataclasses.make_dataclass(
        f"{name.upper()}Command",
        [("config", config_cls, dataclasses.field(default_factory=config_cls)),
         ("run", RunOptions, dataclasses.field(default_factory=RunOptions))],
        frozen=True,
    )


def parse(argv: list[str] | None = None, prog: str = "python -m experiments.train") -> tuple[str, Any, RunOptions]:
    """`AGENT [options]` -> (agent name, its Config, RunOptions)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        raise SystemExit(f"usage: {prog} {{{','.join(AGENTS)}}} [options]   (AGENT --help lists them)")
    name, rest = argv[0], argv[1:]
    if name not in AGENTS:
        raise SystemExit(f"error: unknown agent {name!r}; choose one of: {', '.join(AGENTS)}")
    config_cls, _ = AGENTS[name]
    try:
        command = tyro.cli(_command_type(name, config_cls), args=rest, prog=f"{prog} {name}",
                           description=config_cls.__doc__, config=(tyro.conf.OmitArgPrefixes,))
    except ValueError as error:  # a Config's own range checks
        raise SystemExit(f"error: {error}") from None
    return name, command.config, command.run


def main(argv: list[str] | None = None) -> Any:
    name, config, options = parse(argv)
    _, make_train = AGENTS[name]
    try:
        train = make_train(config)
    except ValueError as error:  # env/agent mismatch, unknown env
        raise SystemExit(f"error: {error}") from None
    run_dir = options.run_dir or driver.default_run_dir(name, config.env)
    out = driver.train_to_dir(name, train, run_dir, num_seeds=options.num_seeds, seed=options.seed,
                              progress=options.progress, num_chunks=options.num_chunks)
    final = np.asarray(out.metrics["episode_return"])[:, -1]
    print(f"final episode_return: mean {final.mean():.1f} over {final.size} seed(s) "
          f"(min {final.min():.1f}, max {final.max():.1f}); wrote {run_dir}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
