"""The `jaxrl` command line: train, sweep or PBT any agent of the registry (`jaxrl.agents.names()`).

    jaxrl train ppo --env CartPole-v1 --total-timesteps 500000 --num-seeds 8
    jaxrl train --resume RUN_DIR
    jaxrl sweep ppo --grid learning_rate=1e-4,3e-4,1e-3 --num-seeds 4
    jaxrl pbt ppo --grid learning_rate=1e-5,1e-2 --num-seeds 4 --ready-every 10 --perturb learning_rate
    python -m jaxrl ...                      (the same)

`jaxrl train AGENT` runs the seeds as one vmapped program, in compiled chunks that a progress
bar follows; the run directory (`--run-dir`, default runs/<agent>-<env>-<time>) receives
config.json, metrics.csv and learning_curve.png. `--checkpoint-every 10` saves the whole
training state (all seeds) into <run-dir>/checkpoints/ every 10 iterations and at the end,
keeping the last `--keep-checkpoints`; `jaxrl train --resume RUN_DIR` continues an interrupted
run in place and ends with the same metrics.csv and final state, bit for bit, as an
uninterrupted run. A resumed run takes its settings from its config.json: flags may repeat them,
and only flags that would change them are refused.

`jaxrl sweep AGENT` runs settings x seeds as one vmapped program: `--grid FIELD=V1,V2,...`
(repeatable) sweeps the cross product, `--random FIELD=LOW:HIGH[:log]` or `--random
FIELD=V1,V2,...` (repeatable) draws `--num-samples` settings instead. FIELD is any field of the
agent's HParams. The run directory (default runs/sweep-<agent>-<env>-<time>) receives
config.json, sweep.csv (one row per setting and seed) and sweep.png.

`jaxrl pbt AGENT` starts the same population (`--grid` / `--random`, `--num-seeds`) and trains it
with population-based training (`jaxrl.pbt`): every `--ready-every` iterations the bottom
`--fraction` copies the top and perturbs `--perturb FIELD,...`. The run directory (default
runs/pbt-<agent>-<env>-<time>) receives config.json, pbt.csv (one row per member: its final
hyperparameters and returns), lineage.csv (per generation and member: the hyperparameters it
trained with, its fitness, its parent) and pbt.png.

Every agent's Config fields are flags (`--total-timesteps`, `--learning-rate`, ...), their help
text the field's docstring; `jaxrl train AGENT --help` lists them.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Annotated, Any, Callable, Literal

import jax
import numpy as np
import tyro

from jaxrl import agents, checkpoint, datasets, distributed, driver, pbt, sweep
from jaxrl.agents.config import variant
from jaxrl.loops.common import TrainOutput


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How `jaxrl train` runs and records an agent's training (not part of its Config)."""

    num_seeds: int = 1
    """Seeds to train, as one vmapped program."""
    seed: int = 0
    """Base seed; seed i of the population uses jax.random.split(key(seed), num_seeds)[i]."""
    run_dir: str | None = None
    """Where to write config.json, metrics.csv and learning_curve.png (default runs/<agent>-<env>-<time>)."""
    overwrite: bool = False
    """Replace the files of a run already in --run-dir (one with checkpoints is never replaced: resume it)."""
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
    """Continue the run in this directory from its latest good checkpoint, in place, with the settings
    in its config.json (flags may repeat them; the agent name may be left out)."""
    on_nonfinite: Literal["stop", "warn"] = "stop"
    """When a loss or the agent's parameters become NaN or inf: stop (no checkpoint of it), or warn once."""


# Run options a resumed run may change: they do not change its results or files.
RESUME_FREE_OPTIONS = ("progress", "tensorboard", "coordinator", "num_processes", "process_id", "resume",
                       "on_nonfinite", "overwrite")


@dataclasses.dataclass(frozen=True)
class PopulationOptions:
    """The population a sweep or PBT run starts from: settings (--grid / --random) x seeds."""

    grid: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """FIELD=V1,V2,... over an HParams field; the settings are the cross product."""
    random: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """FIELD=LOW:HIGH[:linear|log] or FIELD=V1,V2,... (choices); draws --num-samples settings."""
    num_samples: int = 8
    """Settings drawn by --random."""
    search_seed: int = 0
    """Seed of the --random draws."""
    num_seeds: int = 1
    """Seeds per setting; seed i equals seed i of `jaxrl train`."""
    seed: int = 0
    """Base seed; seed i uses jax.random.split(key(seed), num_seeds)[i]."""


@dataclasses.dataclass(frozen=True)
class SweepOptions(PopulationOptions):
    """What `jaxrl sweep` sweeps and how it runs (not part of the agent's Config)."""

    run_dir: str | None = None
    """Where to write config.json, sweep.csv and sweep.png (default runs/sweep-<agent>-<env>-<time>)."""
    overwrite: bool = False
    """Replace the files of a run already in --run-dir."""
    progress: bool = True
    """Show a progress bar."""
    num_chunks: int = 50
    """Compiled chunks the sweep is split into (progress updates); results do not depend on it."""


@dataclasses.dataclass(frozen=True)
class PBTOptions(PopulationOptions):
    """What `jaxrl pbt` starts from and how it exploits and explores (not part of the agent's Config);
    PBT's own draws come from --seed too."""

    ready_every: int = 10
    """Iterations per generation: members are ranked, the bottom copies the top, every this many."""
    perturb: str = ""
    """Comma-separated HParams fields explore perturbs (default: the fields --grid / --random set)."""
    fraction: float = 0.25
    """Share of the population exploited each generation (the bottom copies the top)."""
    fitness: Literal["return", "eval"] = "return"
    """Members ranked by their mean training return over the generation, or by greedy evaluation."""
    run_dir: str | None = None
    """Where to write config.json, pbt.csv, lineage.csv and pbt.png (default runs/pbt-<agent>-<env>-<time>)."""
    overwrite: bool = False
    """Replace the files of a run already in --run-dir."""
    progress: bool = True
    """Show a progress bar."""
    num_chunks: int = 50
    """Compiled chunks of whole generations the run is split into (progress updates); results do not depend on it."""


COMMANDS = {
    "train": "Train an agent: seeds as one vmapped program, into a run directory (--resume RUN_DIR continues one).",
    "sweep": "Sweep an agent's hyperparameters (--grid / --random): settings x seeds as one vmapped program.",
    "pbt": "Population-based training (--grid / --random starting settings): exploit and explore inside one program.",
    "evaluate": "Play every seed's greedy policy from a run directory's latest checkpoint (RUN_DIR --episodes N).",
}


def agent_summary(name: str) -> str:
    """The agent's name as its Config's docstring gives it: its first paragraph up to the first ': '
    outside parentheses (a cited title such as "IMPALA: Scalable ..." keeps its colon)."""
    config_cls = agents.get(name).Config
    doc = (config_cls.__doc__ or "").strip()
    if doc.startswith(f"{config_cls.__name__}("):  # the signature that dataclasses writes where there is no docstring
        return ""
    first = " ".join(doc.split("\n\n")[0].split())
    depth = 0
    for i, char in enumerate(first):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and first.startswith(": ", i):
            first = first[:i]
            break
    return first.rstrip(".")


def _agents_table() -> str:
    names = agents.names()
    width = max(len(n) for n in names)
    return "\n".join(f"  {name:<{width}}  {agent_summary(name)}" for name in names)


def _help(text: str) -> None:
    """Prints help to stdout and exits with status 0, as argparse's --help does."""
    print(text)
    raise SystemExit(0)


def _overview(argv: list[str], prog: str, needed: str, text: Callable[[], str]) -> None:
    """With no arguments, exits with an error saying `prog` needs `needed`; with -h/--help first,
    prints `text()` and exits; otherwise returns."""
    if not argv:
        raise SystemExit(f"error: {prog} needs {needed}\n{text()}")
    if argv[0] in ("-h", "--help"):
        _help(text())


def _flag_value(argv: list[str], flag: str) -> str | None:
    """The value given to `flag` in `argv` (`--flag VALUE` or `--flag=VALUE`), or None."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg[len(flag) + 1:]
    return None


def parse_command(argv: list[str], prog: str, options_cls: type, group: str, usage: str, about: str,
                  default: tuple[Any, Any] | None = None) -> tuple[str, Any, Any]:
    """`AGENT [flags]` -> (agent name, its Config, an `options_cls`): the agent's Config fields
    and the options' fields as flags (the latter shown as "`group` options"). `default` =
    (config, options) replaces the classes' defaults (a resumed run's recorded settings)."""
    _overview(argv, prog, "an agent", lambda: f"usage: {prog} AGENT {usage}\n\n{about}\n\nagents:\n"
              f"{_agents_table()}\n\n`{prog} AGENT --help` lists its flags.")
    name, rest = argv[0], argv[1:]
    try:
        agent = agents.get(name)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    try:  # an agent family (imitation agents): the Config of the base agent --direct-rl names
        config_cls = variant(agent.Config, _flag_value(rest, "--direct-rl") or getattr(
            default[0] if default else None, "direct_rl", None))
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    command_type = dataclasses.make_dataclass(
        f"{''.join(c if c.isalnum() else '_' for c in name)}_{group}_command",
        [("config", config_cls, dataclasses.field(default_factory=config_cls)),
         (group, options_cls, dataclasses.field(default_factory=options_cls))],
        frozen=True,
    )
    kwargs = {} if default is None else {"default": command_type(*default)}
    try:
        # Help text comes from field docstrings only: a comment above a field is not its help.
        command = tyro.cli(command_type, args=rest, prog=f"{prog} {name}",
                           description=f"{about}\n\n{name}: {agent_summary(name)}.",
                           config=(tyro.conf.OmitArgPrefixes, tyro.conf.HelptextFromCommentsOff), **kwargs)
    except ValueError as error:  # a Config's own range checks
        raise SystemExit(f"error: {error}") from None
    return name, command.config, getattr(command, group)


def check_counts(options: Any) -> None:
    """SystemExit naming a count among `options` (--num-seeds, --num-chunks, --num-samples) below 1,
    before a program is built or a run directory written."""
    for field in ("num_seeds", "num_chunks", "num_samples"):
        value = getattr(options, field, 1)
        if value < 1:
            raise SystemExit(f"error: --{field.replace('_', '-')} must be >= 1, got {value}")


# -- jaxrl train ------------------------------------------------------------------------------


def parse_train(argv: list[str], prog: str = "jaxrl train",
                default: tuple[Any, RunOptions] | None = None) -> tuple[str, Any, RunOptions]:
    """`AGENT [flags]` -> (agent name, its Config, RunOptions)."""
    return parse_command(argv, prog, RunOptions, "run", f"[config flags] [run options]   or   {prog} --resume "
                         "RUN_DIR [flags]", about=COMMANDS["train"], default=default)


def train_main(argv: list[str] | None = None, prog: str = "jaxrl train") -> TrainOutput:
    """`jaxrl train AGENT [flags]`: trains, writes the run directory, returns the output."""
    argv = list(sys.argv[1:] if argv is None else argv)
    resume_dir = _resume_dir(argv)
    recorded = None
    if resume_dir is not None:
        argv, recorded = _recorded_settings(argv, resume_dir)
        # Another base agent picks another Config class, whose flags tyro would not know: refused
        # by name here, as the other settings are after parsing.
        was, now = getattr(recorded[0], "direct_rl", None), _flag_value(argv[1:], "--direct-rl")
        if now is not None and now != was:
            raise _changed_settings(resume_dir, [("direct_rl", was, now)])
    name, config, options = parse_train(argv, prog, default=recorded)
    if recorded is not None:
        _refuse_changed_settings(resume_dir, *recorded, config, options)
    check_counts(options)
    run_dir = options.run_dir or driver.default_run_dir(name, config.env)
    if recorded is None:
        # Here, before jax.distributed joins the processes, none of them has written this run's files.
        try:
            driver.refuse_existing_run(run_dir, options.overwrite)
        except (checkpoint.CheckpointError, driver.RunDirError) as error:
            raise SystemExit(f"error: {error}") from None
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
    mesh = None
    if jax.device_count() > 1:  # split the population over every device of every process
        if options.num_seeds % jax.device_count():
            raise SystemExit(f"error: --num-seeds {options.num_seeds} must be a multiple of the {jax.device_count()} "
                             f"devices, so that the population splits evenly over them")
        mesh = distributed.make_mesh()
    if recorded is None:
        if options.checkpoint_every < 0:
            raise SystemExit(f"error: --checkpoint-every must be >= 0 iterations, got {options.checkpoint_every}")
        if options.keep_checkpoints < 1:
            raise SystemExit(f"error: --keep-checkpoints must be >= 1, got {options.keep_checkpoints}")
        if options.checkpoint_every == 0 and options.keep_checkpoints != RunOptions.keep_checkpoints:
            raise SystemExit("error: --keep-checkpoints needs --checkpoint-every ITERATIONS (checkpoints are off)")
    try:
        if recorded is None:
            train = agents.get(name).make_train(config)
        else:  # the dataset's rows come from the checkpoints
            train = driver.restorable_train(name, config, driver.read_run_config(resume_dir), resume=True)
    except (ValueError, datasets.DatasetError) as error:  # env/agent mismatch, unknown env, a missing dataset
        raise SystemExit(f"error: {error}") from None
    try:
        out = driver.train_to_dir(name, train, run_dir, num_seeds=options.num_seeds, seed=options.seed,
                                  progress=options.progress, num_chunks=options.num_chunks,
                                  checkpoint_every=options.checkpoint_every,
                                  keep_checkpoints=options.keep_checkpoints, resume=recorded is not None,
                                  eval_every=options.eval_every, tensorboard=options.tensorboard, mesh=mesh,
                                  on_nonfinite=options.on_nonfinite, overwrite=options.overwrite)
    except (checkpoint.CheckpointError, driver.NonFiniteError, driver.RunDirError) as error:  # nothing to resume; NaN
        raise SystemExit(f"error: {error}") from None
    # A resumed run that had already finished runs no iterations; the state holds the last return.
    final = np.asarray(out.metrics["episode_return"])[:, -1] if out.metrics else np.asarray(out.state.episode_return)
    if jax.process_index() == 0:
        print(f"final episode_return: mean {final.mean():.1f} over {final.size} seed(s) "
              f"(min {final.min():.1f}, max {final.max():.1f}); wrote {run_dir}")
    return out


def _resume_dir(argv: list[str]) -> str | None:
    """The value of the last `--resume DIR` / `--resume=DIR` in `argv` (None without one)."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "--resume" or arg.startswith("--resume="):
            value = arg.partition("=")[2] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else "")
            if not value or value.startswith("-"):
                raise SystemExit("error: --resume needs a run directory")
            found = value
    return found


def _read_run_config(run_dir: str) -> dict:
    try:
        return driver.read_run_config(run_dir)
    except checkpoint.CheckpointError as error:
        raise SystemExit(f"error: --resume {run_dir}: {error}") from None


def _recorded_settings(argv: list[str], run_dir: str) -> tuple[list[str], tuple[Any, RunOptions]]:
    """`argv` with the recorded agent's name first, and the (config, run options) that the run in
    `run_dir` recorded in its config.json: the defaults of every flag not given again."""
    stored = _read_run_config(run_dir)
    name = stored["agent"]
    if argv and not argv[0].startswith("-"):
        if argv[0] != name:
            raise SystemExit(f"error: {run_dir} is a {name} run, not {argv[0]}")
    else:
        argv = [name, *argv]
    if not stored.get("checkpoint_every"):
        raise SystemExit(f"error: cannot resume {run_dir}: it was run without --checkpoint-every, so it has no "
                         f"checkpoints")
    try:
        config = driver.config_from_json(agents.get(name).Config, stored["config"])
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: cannot read the config of {run_dir}: {error}") from None
    options = RunOptions(run_dir=run_dir, num_seeds=stored["num_seeds"], seed=stored["seed"],
                         num_chunks=stored.get("num_chunks", RunOptions.num_chunks),
                         checkpoint_every=stored["checkpoint_every"],
                         keep_checkpoints=stored.get("keep_checkpoints", RunOptions.keep_checkpoints),
                         eval_every=stored.get("eval_every", 0), resume=run_dir)
    return argv, (config, options)


def _refuse_changed_settings(run_dir: str, recorded_config: Any, recorded_options: RunOptions, config: Any,
                             options: RunOptions) -> None:
    """SystemExit naming every config field and run option that the flags set to another value
    than the resumed run recorded (repeating a recorded value is fine)."""
    differ = [(f.name, getattr(recorded_config, f.name), getattr(config, f.name))
              for f in dataclasses.fields(config) if getattr(recorded_config, f.name) != getattr(config, f.name)]
    for f in dataclasses.fields(RunOptions):
        if f.name in RESUME_FREE_OPTIONS:
            continue
        was, now = getattr(recorded_options, f.name), getattr(options, f.name)
        if f.name == "run_dir" and now is not None and os.path.realpath(was) == os.path.realpath(now):
            continue  # the same directory, however it is spelled
        if was != now:
            differ.append((f.name, was, now))
    if differ:
        raise _changed_settings(run_dir, differ)


def _changed_settings(run_dir: str, differ: list[tuple[str, Any, Any]]) -> SystemExit:
    """The refusal of a resume whose flags change the recorded settings `differ` (name, was, now)."""
    return SystemExit(f"error: --resume continues {run_dir} with the settings in its config.json, but these flags "
                      f"change them: " + "; ".join(f"{k}: {a!r} there, {b!r} here" for k, a, b in differ))


# -- jaxrl sweep ------------------------------------------------------------------------------


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


def settings_from_options(options: PopulationOptions) -> list[sweep.Setting]:
    """The settings that `--grid` or `--random` asks for; ValueError when neither or both."""
    if bool(options.grid) == bool(options.random):
        raise ValueError("give --grid FIELD=V1,V2,... (cross product) or --random FIELD=LOW:HIGH[:log] "
                         "(random search), not both or neither")
    if options.grid:
        return sweep.grid(**parse_grid(options.grid))
    return sweep.random_search(options.num_samples, options.search_seed, **parse_random(options.random))


def population_program(name: str, config: Any, options: PopulationOptions) -> tuple[list[sweep.Setting], Any]:
    """The settings `options` ask for and the agent's `Train`; names, values and ranges are checked
    on the config alone, before anything is built (SystemExit naming the problem)."""
    check_counts(options)
    try:
        settings = settings_from_options(options)
        sweep.check_settings(config.hparams(), settings)
        sweep.check_ranges(config, settings)
        return settings, agents.get(name).make_train(config)
    except (ValueError, datasets.DatasetError) as error:
        raise SystemExit(f"error: {error}") from None


def parse_sweep(argv: list[str], prog: str = "jaxrl sweep") -> tuple[str, Any, SweepOptions]:
    """`AGENT [flags]` -> (agent name, its Config, SweepOptions)."""
    return parse_command(argv, prog, SweepOptions, "sweep", "--grid FIELD=V1,V2,... [config flags] [sweep options]",
                         about=COMMANDS["sweep"])


def sweep_main(argv: list[str] | None = None, prog: str = "jaxrl sweep") -> sweep.SweepResult:
    """`jaxrl sweep AGENT [flags]`: runs the sweep, writes its directory, prints each setting's returns."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name, config, options = parse_sweep(argv, prog)
    settings, train = population_program(name, config, options)
    run_dir = options.run_dir or sweep.default_run_dir(name, config.env)
    try:
        result = sweep.sweep_to_dir(name, train, settings, run_dir, num_seeds=options.num_seeds, seed=options.seed,
                                    progress=options.progress, num_chunks=options.num_chunks,
                                    overwrite=options.overwrite)
    except (driver.RunDirError, checkpoint.CheckpointError) as error:  # another run's files; its checkpoints
        raise SystemExit(f"error: {error}") from None
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


# -- jaxrl pbt --------------------------------------------------------------------------------


def parse_pbt(argv: list[str], prog: str = "jaxrl pbt") -> tuple[str, Any, PBTOptions]:
    """`AGENT [flags]` -> (agent name, its Config, PBTOptions)."""
    return parse_command(argv, prog, PBTOptions, "pbt", "--grid FIELD=V1,V2,... [config flags] [pbt options]",
                         about=COMMANDS["pbt"])


def pbt_main(argv: list[str] | None = None, prog: str = "jaxrl pbt") -> pbt.PBTResult:
    """`jaxrl pbt AGENT [flags]`: runs PBT, writes its directory, prints each member's end."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name, config, options = parse_pbt(argv, prog)
    settings, train = population_program(name, config, options)
    perturb = tuple(f.strip().replace("-", "_") for f in options.perturb.split(",") if f.strip()) or tuple(settings[0])
    try:
        run_dir = options.run_dir or pbt.default_run_dir(name, config.env)
        result = pbt.pbt_to_dir(name, train, settings, run_dir, num_seeds=options.num_seeds, seed=options.seed,
                                ready_every=options.ready_every, perturb=perturb, fraction=options.fraction,
                                fitness=options.fitness, progress=options.progress, num_chunks=options.num_chunks,
                                overwrite=options.overwrite)
    except (ValueError, checkpoint.CheckpointError) as error:
        raise SystemExit(f"error: {error}") from None
    for member in range(len(result.table["seed"])):
        values = ", ".join(f"{f}={result.table[f][member]:.4g}" for f in result.perturb)
        print(f"member {member} (from setting {result.table['start'][member]}, seed {result.table['seed'][member]}): "
              f"final return {result.table['final_return'][member]:.1f}, ends with {values}")
    print(f"median final return {np.median(result.table['final_return']):.1f}; wrote {run_dir}")
    return result


# -- jaxrl evaluate ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EvaluateOptions:
    """Which run to evaluate, and how long."""

    run_dir: tyro.conf.Positional[str]
    """A run directory written with checkpoints (jaxrl train --checkpoint-every N)."""
    episodes: int = 10
    """Greedy episodes per seed, one per env."""


def evaluate_main(argv: list[str] | None = None, prog: str = "jaxrl evaluate") -> np.ndarray:
    """`jaxrl evaluate RUN_DIR [--episodes N]`: prints each seed's mean greedy return and their mean."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = tyro.cli(EvaluateOptions, args=argv, prog=prog, description=COMMANDS["evaluate"])
    if options.episodes < 1:
        raise SystemExit(f"error: --episodes must be >= 1, got {options.episodes}")
    try:
        returns = driver.evaluate_run(options.run_dir, episodes=options.episodes)
    except (checkpoint.CheckpointError, datasets.DatasetError, ValueError) as error:  # ... an unknown agent
        raise SystemExit(f"error: {error}") from None
    for seed, value in enumerate(returns):
        print(f"seed {seed}: {value:.2f}")
    print(f"mean: {returns.mean():.2f} over {returns.size} seed(s), {options.episodes} greedy episodes each")
    return returns


# -- jaxrl ------------------------------------------------------------------------------------

_SUBCOMMANDS = {"train": train_main, "sweep": sweep_main, "pbt": pbt_main, "evaluate": evaluate_main}


def main(argv: list[str] | None = None, prog: str = "jaxrl") -> None:
    """`jaxrl {train,sweep,pbt,evaluate} ...` (the console script). Returns None, so that the script
    exits with status 0; errors exit through SystemExit with their message."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = "\n".join(f"  {name}  {text}" for name, text in COMMANDS.items())
    usage = f"usage: {prog} {{{','.join(COMMANDS)}}} AGENT|RUN_DIR [flags]"
    _overview(argv, prog, "a command", lambda: f"{usage}\n\nReinforcement learning as pure, compiled JAX programs.\n\n"
              f"commands:\n{commands}\n\nagents:\n{_agents_table()}\n\n`{prog} train AGENT --help` lists an "
              f"agent's flags.")
    command, rest = argv[0], argv[1:]
    if command not in _SUBCOMMANDS:
        raise SystemExit(f"error: unknown command {command!r}; choose one of: {', '.join(COMMANDS)}\n{usage}")
    _SUBCOMMANDS[command](rest, prog=f"{prog} {command}")


__all__ = ["EvaluateOptions", "PBTOptions", "PopulationOptions", "RunOptions", "SweepOptions", "evaluate_main", "main",
           "parse_pbt", "parse_sweep", "parse_train", "pbt_main", "population_program", "sweep_main", "train_main"]
