"""Train an agent from the command line.

    python -m experiments.train ppo --env CartPole-v1 --total-timesteps 500000 --num-seeds 8

Seeds run as one vmapped program; a progress bar follows the compiled chunks; the run directory
(`--run-dir`, default runs/<agent>-<env>-<time>) receives config.json, metrics.csv and
learning_curve.png.

Checkpoints and resume: `--checkpoint-every 10` saves the whole training state (all seeds) into
<run-dir>/checkpoints/ every 10 iterations and at the end, keeping the last `--keep-checkpoints`;
`python -m experiments.train --resume RUN_DIR` continues an interrupted run in place, ending
with the same metrics.csv and final state, bit for bit, as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, Callable

import jax
import numpy as np
import tyro

from jaxrl import checkpoint, distributed, driver
from jaxrl.agents import d4pg, ddpg, dqn, ppo, sac, td3


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
    checkpoint_every: int = 0
    """Save the whole training state into <run-dir>/checkpoints/ every this many iterations and at
    the end (0: no checkpoints)."""
    keep_checkpoints: int = 3
    """How many of the latest checkpoints to keep."""
    eval_every: int = 0
    """Evaluate the greedy policy on separate envs every this many iterations, as the metrics.csv
    column eval_return (0: off)."""
    tensorboard: bool = False
    """Also write TensorBoard event files into <run-dir>/tensorboard/seed_<i>/."""
    coordinator: str | None = None
    """HOST:PORT of process 0, to join a multi-process run through jax.distributed (every process
    runs the same command with its own --process-id)."""
    num_processes: int = 1
    """Processes in a multi-process run."""
    process_id: int = 0
    """This process's rank in [0, num_processes)."""
    resume: str | None = None
    """Continue the run in this directory from its latest good checkpoint, in place; its agent, config
    and run options come from its config.json (the agent name may be left out)."""


# Each agent: its Config class and make_train. New agents add one line here.
AGENTS: dict[str, tuple[type, Callable[[Any], Any]]] = {
    "ppo": (ppo.Config, ppo.make_train),
    "dqn": (dqn.Config, dqn.make_train),
    "ddpg": (ddpg.Config, ddpg.make_train),
    "td3": (td3.Config, td3.make_train),
    "sac": (sac.Config, sac.make_train),
    "d4pg": (d4pg.Config, d4pg.make_train),
}


def parse_command(argv: list[str] | None, prog: str, options_cls: type, usage: str = "[options]",
                  kind: str = "") -> tuple[str, Any, Any]:
    """`AGENT [options]` -> (agent name, its Config, an `options_cls`): the agent's Config fields
    and the options as flags (also for `experiments.sweep`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        raise SystemExit(f"usage: {prog} {{{','.join(AGENTS)}}} {usage}   (AGENT --help lists them)")
    name, rest = argv[0], argv[1:]
    if name not in AGENTS:
        raise SystemExit(f"error: unknown agent {name!r}; choose one of: {', '.join(AGENTS)}")
    config_cls, _ = AGENTS[name]
    command_type = dataclasses.make_dataclass(
        f"{name.upper()}{kind}Command",
        [("config", config_cls, dataclasses.field(default_factory=config_cls)),
         ("options", options_cls, dataclasses.field(default_factory=options_cls))],
        frozen=True,
    )
    try:
        command = _tyro_cli(command_type, args=rest, prog=f"{prog} {name}", description=config_cls.__doc__,
                            config=(tyro.conf.OmitArgPrefixes,))
    except ValueError as error:  # a Config's own range checks
        raise SystemExit(f"error: {error}") from None
    return name, command.config, command.options


def _tyro_cli(*args, **kwargs):
    """`tyro.cli`, retried once on CPython 3.11's spurious "AST constructor recursion depth
    mismatch" SystemError (python/cpython#106905: `ast.parse`, which tyro runs via
    `inspect.getsource` to read field docstrings, keeps its depth counter in interpreter-wide
    state that another thread or a finaliser can move mid-parse). Seen twice in `make test`, in a
    test that resumes a run while orbax's threads from an earlier checkpointer were alive; a
    second parse succeeds."""
    try:
        return tyro.cli(*args, **kwargs)
    except SystemError as error:
        if "AST constructor recursion depth mismatch" not in str(error):
            raise
        return tyro.cli(*args, **kwargs)


def parse(argv: list[str] | None = None, prog: str = "python -m experiments.train") -> tuple[str, Any, RunOptions]:
    """`AGENT [options]` -> (agent name, its Config, RunOptions)."""
    return parse_command(argv, prog, RunOptions)


def main(argv: list[str] | None = None) -> Any:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("--resume"):  # `--resume RUN_DIR` alone: the agent it recorded
        run_dir = argv[0].partition("=")[2] or (argv[1] if len(argv) > 1 else "")
        if not run_dir:
            raise SystemExit("error: --resume needs a run directory")
        argv = [_read_run_config(run_dir)["agent"], *argv]
    name, config, options = parse(argv)
    config_cls, make_train = AGENTS[name]
    # Before anything touches a device (building a train program does).
    try:
        distributed.initialize(options.coordinator, None if options.coordinator is None else options.num_processes,
                               None if options.coordinator is None else options.process_id)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    if options.coordinator is None and (options.num_processes != 1 or options.process_id != 0):
        raise SystemExit("error: --num-processes and --process-id need --coordinator HOST:PORT of process 0")
    if options.eval_every < 0:
        raise SystemExit(f"error: --eval-every must be >= 0 iterations, got {options.eval_every}")
    if options.resume is not None:
        config, options = _resume_settings(name, config_cls, options, argv)
    elif options.checkpoint_every < 0:
        raise SystemExit(f"error: --checkpoint-every must be >= 0 iterations, got {options.checkpoint_every}")
    elif options.keep_checkpoints < 1:
        raise SystemExit(f"error: --keep-checkpoints must be >= 1, got {options.keep_checkpoints}")
    elif options.checkpoint_every == 0 and options.keep_checkpoints != RunOptions.keep_checkpoints:
        raise SystemExit("error: --keep-checkpoints needs --checkpoint-every ITERATIONS (checkpoints are off)")
    # After the resumed run's settings: its --num-seeds comes from its config.json.
    mesh = None
    if jax.device_count() > 1:  # split the population over every device of every process
        if options.num_seeds % jax.device_count():
            raise SystemExit(f"error: --num-seeds {options.num_seeds} must be a multiple of the {jax.device_count()} "
                             f"devices, so that the population splits evenly over them")
        mesh = distributed.make_mesh()
    try:
        train = make_train(config)
    except ValueError as error:  # env/agent mismatch, unknown env
        raise SystemExit(f"error: {error}") from None
    run_dir = options.run_dir or driver.default_run_dir(name, config.env)
    try:
        out = driver.train_to_dir(name, train, run_dir, num_seeds=options.num_seeds, seed=options.seed,
                                  progress=options.progress, num_chunks=options.num_chunks,
                                  checkpoint_every=options.checkpoint_every,
                                  keep_checkpoints=options.keep_checkpoints, resume=options.resume is not None,
                                  eval_every=options.eval_every, tensorboard=options.tensorboard, mesh=mesh)
    except checkpoint.CheckpointError as error:  # nothing to resume, corrupted checkpoints, settings
        raise SystemExit(f"error: {error}") from None
    # A resumed run that had already finished runs no iterations; the state holds the last return.
    final = np.asarray(out.metrics["episode_return"])[:, -1] if out.metrics else np.asarray(out.state.episode_return)
    if jax.process_index() != 0:
        return out
    print(f"final episode_return: mean {final.mean():.1f} over {final.size} seed(s) "
          f"(min {final.min():.1f}, max {final.max():.1f}); wrote {run_dir}")
    return out


def _read_run_config(run_dir: str) -> dict:
    try:
        return driver.read_run_config(run_dir)
    except checkpoint.CheckpointError as error:
        raise SystemExit(f"error: --resume {run_dir}: {error}") from None


def _resume_settings(name: str, config_cls: type, options: RunOptions, argv: list[str]) -> tuple[Any, RunOptions]:
    """The config and run options recorded in the resumed run's config.json; flags that would
    change them are refused rather than silently ignored."""
    run_dir = options.resume
    stored = _read_run_config(run_dir)
    if stored["agent"] != name:
        raise SystemExit(f"error: {run_dir} is a {stored['agent']} run, not {name}")
    extra = [a.partition("=")[0] for a in argv[1:] if a.startswith("-")]
    extra = [a for a in extra if a not in ("--resume", "--progress", "--no-progress", "--tensorboard",
                                           "--coordinator", "--num-processes", "--process-id")]
    if extra:
        raise SystemExit(f"error: --resume continues {run_dir} with the settings in its config.json; drop "
                         f"{' '.join(extra)}")
    if not stored.get("checkpoint_every"):
        raise SystemExit(f"error: cannot resume {run_dir}: it was run without --checkpoint-every, so it has no "
                         f"checkpoints")
    try:
        config = driver.config_from_json(config_cls, stored["config"])
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: cannot read the config of {run_dir}: {error}") from None
    options = dataclasses.replace(
        options, run_dir=run_dir, num_seeds=stored["num_seeds"], seed=stored["seed"],
        num_chunks=stored.get("num_chunks", RunOptions.num_chunks), checkpoint_every=stored["checkpoint_every"],
        keep_checkpoints=stored.get("keep_checkpoints", RunOptions.keep_checkpoints),
        eval_every=stored.get("eval_every", 0))
    return config, options


if __name__ == "__main__":
    main(sys.argv[1:])
