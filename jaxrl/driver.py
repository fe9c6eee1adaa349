"""The host-side driver: runs any agent's `Train` program for a population of seeds in
compiled chunks, feeding metric sinks (progress bar, CSV) between chunks.

Chunking changes nothing in the results: `run(init(k), a + b)` and `run(run(init(k), a), b)`
are bit-identical, so the driver may stop anywhere (to report, evaluate or checkpoint).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
import sys
import time
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh

from jaxrl import agents, checkpoint, datasets, distributed, plotting, telemetry
# config.json's conversions live with the config bases (a saved policy stores its config the same way).
from jaxrl.agents.config import absolute_paths, config_from_json, jsonable
from jaxrl.loops.common import NONFINITE, Train, TrainOutput, TrainState

# Debugging aid for tests of crash recovery: seconds to sleep after every chunk (and its
# checkpoint), so that a process can reliably be killed in the middle of a run. Unset: no sleep.
DEBUG_CHUNK_SLEEP_ENV = "JAXRL_DEBUG_CHUNK_SLEEP"


# What `run` and `train_to_dir` do when the `nonfinite` metric flags NaN or inf in a chunk.
ON_NONFINITE = ("stop", "warn")
# Shared metrics that are no learner's: never named as the non-finite ones (`eval_return` is NaN
# by design in iterations without an evaluation).
_NOT_LEARNER_METRICS = ("env_steps", "learner_steps", "episode_return", "episode_length", "eval_return", NONFINITE)


def check_counts(optional: bool = False, **counts: Any) -> None:
    """ValueError naming the first of `counts` (num_seeds=..., num_chunks=...) that is not an int
    >= 1 (or None, with `optional`): called by the writers before a run directory is touched (they
    record the counts in config.json, as JSON, hence a Python int)."""
    for name, value in counts.items():
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            allowed = "an int >= 1 or None" if optional else "an int >= 1"
            raise ValueError(f"{name} must be {allowed}, got {value!r}")


class RunDirError(ValueError):
    """A new run pointed at a directory that already holds another run's files."""


def refuse_existing_run(run_dir: str, overwrite: bool = False, config_too: bool = True) -> None:
    """Before a new run in `run_dir`: CheckpointError where it holds checkpoints (resume it instead),
    and, with `config_too`, RunDirError where it holds a run (its config.json) and `overwrite` is
    False: a new run would replace that run's config, metrics and plots."""
    checkpoint_dir = os.path.join(run_dir, "checkpoints")
    # Finished steps only: an unfinished save (a killed first save) or a step moved aside as
    # corrupted leaves nothing to resume, so it must not stop a new run either.
    if os.path.isdir(checkpoint_dir) and any(name.isdigit() for name in os.listdir(checkpoint_dir)):
        raise checkpoint.CheckpointError(f"{run_dir} already holds checkpoints: resume it, or start the run in "
                                         f"another directory")
    path = os.path.join(run_dir, "config.json")
    if config_too and not overwrite and os.path.exists(path):
        raise RunDirError(f"{run_dir} already holds a run ({path}): choose another run directory, or pass "
                          f"--overwrite (overwrite=True) to replace its files")


class NonFiniteError(RuntimeError):
    """A run's learner metrics or agent state became NaN or inf (`on_nonfinite="stop"`).

    Attributes:
      iteration: the first such iteration (1-based, as in metrics.csv).
      member: the population member (seed index) it happened in first.
      metrics: the learner metrics that were non-finite there; empty if only the agent's
        parameters (or optimiser state) were.
    """

    def __init__(self, message: str, iteration: int, member: int, metrics: Sequence[str]):
        super().__init__(message)
        self.iteration = iteration
        self.member = member
        self.metrics = tuple(metrics)


def first_nonfinite(metrics: dict[str, np.ndarray], first_iteration: int) -> tuple[int, list[int], list[str]] | None:
    """Where a chunk's `nonfinite` flags are first set: (iteration, members, metric names), or None.

    `metrics` holds host arrays [members, chunk] of iterations `first_iteration + 1 ...`. The
    iteration is the earliest flagged one, `members` every member flagged in it (ascending), and
    the names are the learner metrics that are not finite in the first of them: none when only
    the agent state is (the flag also covers params, optimiser and target state).
    """
    flags = metrics.get(NONFINITE)
    if flags is None:  # a Train program that reports no flag
        return None
    flagged = np.asarray(flags) != 0
    if not flagged.any():
        return None
    column = int(np.argmax(flagged.any(axis=0)))
    members = [int(m) for m in np.flatnonzero(flagged[:, column])]
    names = sorted(k for k, v in metrics.items()
                   if k not in _NOT_LEARNER_METRICS and np.issubdtype(np.asarray(v).dtype, np.inexact)
                   and not np.isfinite(np.asarray(v)[members[0], column]))
    return first_iteration + column + 1, members, names


def _nonfinite_message(metrics: dict[str, np.ndarray], iteration: int, members: list[int], names: list[str],
                       first_iteration: int, seeds: bool) -> str:
    member = members[0]
    who = f"seed {member} (population member {member})" if seeds else f"population member {member}"
    if names:
        what = f"the learner metric{'s' if len(names) > 1 else ''} {', '.join(names)}"
    else:
        what = "the agent's parameters or optimiser state (every learner metric is finite)"
    message = f"non-finite values (NaN or inf) at iteration {iteration} in {who}: {what}"
    if len(members) > 1:
        message += f"; {len(members) - 1} more member(s) at that iteration: {members[1:9]}"
    episode_return = metrics.get("episode_return")
    if episode_return is not None and not np.isfinite(episode_return[member, iteration - first_iteration - 1]):
        message += "; its episode_return is not finite either, so the environment's rewards may be"
    return message


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


def chunk_ends(num_iterations: int, num_chunks: int, checkpoint_every: int = 0, eval_every: int = 0) -> list[int]:
    """The iterations at which the driver's compiled chunks end.

    Without checkpoints, every `chunk_size(num_iterations, num_chunks)` iterations. With them,
    every checkpoint iteration also ends a chunk: chunks restart at each multiple of
    `checkpoint_every`, and their size becomes a divisor of `checkpoint_every` near the target
    where one exists (so still one or two compiled programs). The schedule is a fixed function of
    these numbers, so a run resumed from a checkpoint runs the very same compiled chunks on
    the same iterations as an uninterrupted one.
    """
    if checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be >= 0, got {checkpoint_every}")
    if eval_every < 0:
        raise ValueError(f"eval_every must be >= 0, got {eval_every}")
    if eval_every > 0:
        # Chunks must also end at every evaluation: end them at multiples of both periods.
        checkpoint_every = math.gcd(checkpoint_every, eval_every)
    size = chunk_size(num_iterations, num_chunks)
    period = checkpoint_every if 0 < checkpoint_every < num_iterations else num_iterations
    if period < num_iterations:
        size = chunk_size(period, -(-period // size))
    ends: list[int] = []
    start = 0
    while start < num_iterations:
        period_end = min(start + period, num_iterations)
        ends.extend(range(start + size, period_end, size))
        ends.append(period_end)
        start = period_end
    return ends


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
    keys: jax.Array | None = None,
    hparams_axis: int | None = None,
    checkpointer: checkpoint.Checkpointer | None = None,
    checkpoint_every: int = 0,
    restore: Callable[[TrainState], tuple[int, TrainState]] | None = None,
    eval_every: int = 0,
    mesh: Mesh | None = None,
    on_nonfinite: str = "stop",
) -> TrainOutput:
    """Trains `num_seeds` seeds as one vmapped program, in chunks; returns stacked outputs.

    `hparams` (one setting, or None for the config's defaults) is shared by all seeds; metrics in
    the output have shape [num_seeds, num_iterations].

    A general population (e.g. `jaxrl.sweep`'s settings x seeds): `keys` (typed PRNG keys [N])
    replaces `population_keys(seed, num_seeds)`, and `hparams_axis=0` takes `hparams` stacked
    along a leading axis of N, one setting per member, as `jax.vmap(train)(keys, hparams)` does.

    Checkpoints: with a `checkpointer` and `checkpoint_every > 0` the population's state is saved
    every `checkpoint_every` iterations and after the last one (chunks end there, see
    `chunk_ends`). `restore(abstract_state) -> (iterations_done, state)` continues a run instead
    of starting one: it gets the initial state's shapes (`jax.eval_shape`, no work done) and
    returns a restored state; the output's metrics then cover only the iterations run here.

    Evaluation: `eval_every > 0` calls `train.evaluate` (greedy episodes on separate envs) after
    every `eval_every` iterations (chunks end there) and reports it as the metric `eval_return`
    (NaN in the other iterations). Its keys are fixed by each member's key and the iteration, so
    evaluating never changes training.

    Devices: with a `mesh` (`distributed.make_mesh()`), the population axis is split over its
    devices, across every process of a `jax.distributed` run; the number of members must be a
    multiple of the mesh size. Metrics are gathered to every process; pass sinks only on the
    process that should write (e.g. process 0).

    Non-finite values: every iteration reports `nonfinite` (1 where a learner metric or a leaf of
    the agent state is NaN or inf, `loops.common.nonfinite_flag`). With `on_nonfinite="stop"` the
    run stops after the chunk in which it first appears, raising `NonFiniteError` naming the
    iteration, the member and the metrics; the sinks have received that chunk's rows, but no
    checkpoint of it is saved, so the latest checkpoint holds the last good state (the earlier
    saves are finished before the error is raised). `"warn"` prints the same facts once and
    trains on.
    """
    if on_nonfinite not in ON_NONFINITE:
        raise ValueError(f"on_nonfinite must be one of {ON_NONFINITE}, got {on_nonfinite!r}")
    named_seeds = keys is None  # members are seeds 0 ... num_seeds - 1, not a caller's keys
    if keys is None:
        check_counts(num_seeds=num_seeds)
        keys = population_keys(seed, num_seeds)
    check_counts(num_chunks=num_chunks)
    if hparams_axis not in (None, 0):
        raise ValueError(f"hparams_axis must be None (shared) or 0 (stacked), got {hparams_axis!r}")
    if eval_every and train.evaluate is None:
        raise ValueError("eval_every > 0, but this train program has no evaluate function (greedy episodes need a "
                         "time limit: an environment without one trains but is not evaluated; set the Config's "
                         "episode_length)")
    # Keys travel as key data (global arrays of typed keys are not supported everywhere).
    key_data, out_sharding = jax.random.key_data(keys), None
    if mesh is not None:
        key_data, hparams = distributed.place_population(mesh, keys, hparams, stacked=hparams_axis == 0)
        out_sharding = distributed.population_sharding(mesh, len(keys))
    host = getattr(train, "host_loop", False)  # a `loops.host.HostTrain`: envs step on this host
    if host:
        if mesh is not None:
            raise ValueError("a train program on host-side environments runs its population in this process; "
                             "it takes no mesh")
        init = lambda k, hp: train.init_population(jax.random.wrap_key_data(k), hp, hparams_axis)  # noqa: E731
        abstract = lambda k, hp: train.abstract_population(jax.random.wrap_key_data(k), hp, hparams_axis)  # noqa: E731
    else:
        init = jax.jit(lambda k, hp: jax.vmap(train.init, in_axes=(0, hparams_axis))(jax.random.wrap_key_data(k),
                                                                                     hp), out_shardings=out_sharding)
        abstract = lambda k, hp: jax.eval_shape(init, k, hp)  # noqa: E731
    ends = chunk_ends(train.num_iterations, num_chunks, checkpoint_every if checkpointer else 0, eval_every)
    if restore is None:
        state, done = init(key_data, hparams), 0
    else:
        done, state = restore(abstract(key_data, hparams))
        if done not in ends and done != 0:
            raise checkpoint.CheckpointError(
                f"cannot continue from iteration {done}: chunks of this run end at {ends[:8]}..., so it was "
                f"saved with other num_chunks / checkpoint_every settings")
    sleep = float(os.environ.get(DEBUG_CHUNK_SLEEP_ENV, "0") or 0)
    evaluate = None
    compiled: dict[int, Any] = {}
    chunks = []
    warned = False
    for end in ends:
        if end <= done:
            continue
        n = end - done
        if n not in compiled:
            if host:
                compiled[n] = lambda s, n=n: train.run_population(s, n)
            else:
                compiled[n] = jax.jit(jax.vmap(lambda s, n=n: train.run(s, n)), out_shardings=out_sharding)
        state, metrics = compiled[n](state)
        host_metrics = dict(distributed.gather(metrics))
        if eval_every:
            host_metrics["eval_return"] = np.full(host_metrics[train.step_metric].shape, np.nan, np.float32)
            if end % eval_every == 0 or end == train.num_iterations:
                if evaluate is None and host:
                    evaluate = lambda k, s: train.evaluate_population(  # noqa: E731
                        s, jax.vmap(jax.random.fold_in)(jax.random.wrap_key_data(k), s.iteration))
                elif evaluate is None:
                    evaluate = jax.jit(lambda k, s: jax.vmap(train.evaluate)(
                        s, jax.vmap(jax.random.fold_in)(jax.random.wrap_key_data(k), s.iteration)),
                        out_shardings=out_sharding)
                host_metrics["eval_return"][:, -1] = distributed.gather(evaluate(key_data, state))
        for sink in sinks:
            sink.write(host_metrics, done)
        chunks.append(host_metrics)
        found = None if warned else first_nonfinite(host_metrics, done)
        if found is not None:
            iteration, members, names = found
            message = _nonfinite_message(host_metrics, iteration, members, names, done, named_seeds)
            if on_nonfinite == "stop":
                if checkpointer is not None:
                    checkpointer.wait()  # the last good save, finished before anyone restores it
                    saved = checkpointer.steps()
                    message += (f"; the run stopped after iteration {end} without saving it, the latest "
                                f"checkpoint is iteration {saved[-1]}" if saved else "; no checkpoint was saved")
                raise NonFiniteError(message, iteration, members[0], names)
            if jax.process_index() == 0:
                _warn(message + " (on_nonfinite='warn': training goes on; this warning is not repeated)")
            warned = True
        done = end
        if checkpointer is not None and checkpoint_every > 0 and (
                done % checkpoint_every == 0 or done == train.num_iterations):
            # After the sinks: a checkpoint's metrics rows are always on disk before it is.
            checkpointer.save(done, state, {"iteration": done, "num_iterations": train.num_iterations})
        if sleep > 0:
            time.sleep(sleep)
    if checkpointer is not None:
        checkpointer.wait()
    metrics = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]} if chunks else {}
    return TrainOutput(state, metrics)


def default_run_dir(agent: str, env: str, root: str = "runs") -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join(root, f"{agent}-{env.replace('/', '_')}-{stamp}")


def read_run_config(run_dir: str) -> dict:
    """The `config.json` that `train_to_dir` wrote into `run_dir` (a clear error if there is none)."""
    if not os.path.isdir(run_dir):
        raise checkpoint.CheckpointError(f"run directory {run_dir} does not exist")
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise checkpoint.CheckpointError(f"{run_dir} has no config.json: not a run directory written by jaxrl")
    try:
        with open(path) as f:
            stored = json.load(f)
    except (OSError, ValueError) as error:
        raise checkpoint.CheckpointError(f"cannot read {path}: {error}") from None
    missing = [k for k in ("agent", "config", "num_seeds", "seed", "num_iterations")
               if not isinstance(stored, dict) or k not in stored]
    if missing:
        raise checkpoint.CheckpointError(f"{path} lacks {missing}: not a config.json written by jaxrl")
    return stored


def truncate_metrics(csv_path: str, iteration: int, num_members: int, *, check_only: bool = False) -> None:
    """Cuts `metrics.csv` back to its rows of iterations <= `iteration` (rows written after the
    checkpoint a run resumes from would otherwise appear twice). Chunks end at checkpoints and
    are written whole, so those rows are a prefix of the file; anything else is an error.
    `check_only` raises that error but leaves the file alone (the processes that do not write it)."""
    if not os.path.isfile(csv_path):
        raise checkpoint.CheckpointError(f"cannot resume: {csv_path} is missing")
    with open(csv_path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    keep, kept_rows = (len(lines[0]), 0) if lines and lines[0].endswith(b"\n") else (0, 0)
    for line in lines[1:]:
        fields = line.split(b",", 2)
        if not line.endswith(b"\n") or len(fields) < 3 or int(fields[1]) > iteration:
            break  # a row cut short by a kill, or the first row past the checkpoint
        keep += len(line)
        kept_rows += 1
    if kept_rows != iteration * num_members:
        raise checkpoint.CheckpointError(
            f"cannot resume: {csv_path} holds {kept_rows} rows up to iteration {iteration}, expected "
            f"{iteration * num_members} ({num_members} per iteration)")
    if not check_only:
        os.truncate(csv_path, keep)


def train_to_dir(
    agent_name: str,
    train: Train,
    run_dir: str,
    *,
    num_seeds: int = 1,
    seed: int = 0,
    progress: bool = True,
    num_chunks: int = 50,
    checkpoint_every: int = 0,
    keep_checkpoints: int = 3,
    resume: bool = False,
    eval_every: int = 0,
    tensorboard: bool = False,
    mesh: Mesh | None = None,
    on_nonfinite: str = "stop",
    overwrite: bool = False,
) -> TrainOutput:
    """Runs `train` for `num_seeds` seeds and writes `config.json`, `metrics.csv` (one row per
    iteration and seed) and `learning_curve.png` (mean and spread over seeds) into `run_dir`.

    A new run refuses a `run_dir` that holds another run (`RunDirError`) unless `overwrite`, and
    one with checkpoints in any case (`CheckpointError`: resume it). In a multi-process run the
    processes do not check for another run (process 0 may have written this one's config.json by
    then): `jaxrl train` checks before `jax.distributed` starts.

    `checkpoint_every > 0` saves the population's whole `TrainState` into `run_dir/checkpoints/`
    every that many iterations and at the end, keeping the last `keep_checkpoints`.

    `resume=True` continues the run in `run_dir` in place (same agent, config, seeds, num_chunks
    and checkpoint_every as its config.json records): restores the newest checkpoint that reads
    back cleanly (a corrupted newer one is renamed `<step>.corrupt`, leftover partial saves are
    deleted), cuts metrics.csv back to that iteration and runs the remaining iterations, so the
    files and the final state are bit for bit those of an uninterrupted run. The returned metrics
    then cover only the iterations run by this call.

    `eval_every > 0` adds the column `eval_return` (see `run`); `tensorboard=True` also writes
    TensorBoard event files into `run_dir/tensorboard/seed_<i>/`. With a `mesh` the population
    is sharded over its devices (all processes of a `jax.distributed` run take part; only
    process 0 writes files).

    `on_nonfinite="stop"` (the default) ends the run with `NonFiniteError` after the chunk in which
    a learner metric or the agent state first becomes NaN or inf (see `run`): metrics.csv then
    holds the rows up to the end of that chunk, no checkpoint of it is saved and no plot is
    drawn, so `resume=True` continues from the last good checkpoint (cutting metrics.csv back to
    it). `"warn"` prints a warning once and trains on.
    """
    if on_nonfinite not in ON_NONFINITE:
        raise ValueError(f"on_nonfinite must be one of {ON_NONFINITE}, got {on_nonfinite!r}")
    if checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be >= 0, got {checkpoint_every}")
    check_counts(num_seeds=num_seeds, num_chunks=num_chunks, keep_checkpoints=keep_checkpoints)
    config = train.config
    settings = {"num_chunks": num_chunks, "checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints,
                "eval_every": eval_every}
    writer = jax.process_index() == 0  # in a multi-process run, one process writes the files
    checkpoint_dir = os.path.join(run_dir, "checkpoints")
    csv_path = os.path.join(run_dir, "metrics.csv")
    if resume:
        stored = read_run_config(run_dir)
        stored["config"] = absolute_paths(type(config), stored.get("config", {}))
        config_now = jsonable(config)
        added = {k: v for k, v in config_now.items() if k not in stored.get("config", {})}
        if added:  # fields added to the Config class since the run started: their defaults
            _warn(f"config fields newer than {run_dir}/config.json take the values {added}")
            config_now = {k: v for k, v in config_now.items() if k not in added}
        wanted = {"agent": agent_name, "config": config_now, "num_seeds": num_seeds, "seed": seed,
                  "num_iterations": train.num_iterations, "num_chunks": num_chunks,
                  "checkpoint_every": checkpoint_every, "eval_every": eval_every}
        stored.setdefault("eval_every", 0)  # run directories from before evaluation existed
        differ = []
        for k, v in wanted.items():
            was = stored.get(k, "(not recorded)")
            if k == "config" and isinstance(was, dict):  # each field by name, not two whole configs
                differ += [f"config.{f}: {was.get(f, '(not recorded)')!r} there, {v.get(f, '(none)')!r} here"
                           for f in sorted(set(was) | set(v)) if was.get(f) != v.get(f)]
            elif was != v:
                differ.append(f"{k}: {was!r} there, {v!r} here")
        if differ:
            raise checkpoint.CheckpointError(f"cannot resume {run_dir} with other settings than it was started "
                                             f"with: " + "; ".join(differ))
        if checkpoint_every <= 0:
            raise checkpoint.CheckpointError(f"cannot resume {run_dir}: it was run without checkpoints")
    else:
        refuse_existing_run(run_dir, overwrite, config_too=jax.process_count() == 1)
        os.makedirs(run_dir, exist_ok=True)
    if writer and not resume:
        # A replaced run's event files would stay beside the new ones (tensorboardX adds a file per
        # writer), and TensorBoard would draw both runs as one.
        if os.path.isdir(os.path.join(run_dir, "tensorboard")):
            shutil.rmtree(os.path.join(run_dir, "tensorboard"))
        with open(os.path.join(run_dir, "config.json"), "w") as f:
            json.dump({"agent": agent_name, "config": jsonable(config), "num_seeds": num_seeds, "seed": seed,
                       "num_iterations": train.num_iterations, **settings, "jax": jax.__version__,
                       "devices": [str(d) for d in jax.devices()], "data": data_layouts(config)}, f, indent=2)
    checkpointer = None
    restore = None
    if checkpoint_every > 0:
        checkpointer = checkpoint.Checkpointer(checkpoint_dir, max_to_keep=keep_checkpoints)
    if resume:
        assert checkpointer is not None
        if not checkpointer.steps():
            raise checkpoint.CheckpointError(f"cannot resume {run_dir}: no finished checkpoint in {checkpoint_dir}"
                                             + _partial_note(checkpointer))
    if checkpointer is not None:  # resumed or new: a save that never finished is of no use
        for path in checkpointer.remove_partial_saves():
            _warn(f"removed {path}: a checkpoint save that never finished")
    if resume:
        def restore(abstract_state: TrainState) -> tuple[int, TrainState]:
            step, state, _ = checkpointer.restore_latest(
                abstract_state, on_skip=lambda bad, error: _warn(f"skipping checkpoint {bad}: {error}"))
            for bad in [s for s in checkpointer.steps() if s > step]:
                _warn(f"moved the unusable checkpoint {bad} to {checkpointer.quarantine(bad)}")
            truncate_metrics(csv_path, step, num_seeds, check_only=not writer)
            return step, state

    total = progress_total(train)
    env_name = getattr(config, "env", "")
    sinks: list[telemetry.Sink] = []
    if writer:
        sinks.append(telemetry.CSVSink(csv_path, seeds=range(num_seeds), append=resume))
        if tensorboard:
            sinks.append(telemetry.TensorBoardSink(os.path.join(run_dir, "tensorboard"), seeds=range(num_seeds),
                                                   step_metric=train.step_metric, resume=resume))
        sinks.append(telemetry.ProgressBar(total, f"{agent_name} {env_name}", disable=not progress,
                                           step_metric=train.step_metric))
    try:
        out = run(train, num_seeds=num_seeds, seed=seed, sinks=sinks, num_chunks=num_chunks,
                  checkpointer=checkpointer, checkpoint_every=checkpoint_every, restore=restore,
                  eval_every=eval_every, mesh=mesh, on_nonfinite=on_nonfinite)
    finally:
        for sink in sinks:
            sink.close()
        if getattr(train, "host_loop", False):
            train.close()  # the host envs' processes or threads
        if checkpointer is not None:
            checkpointer.close()
    if writer:
        plotting.plot_learning_curve(csv_path, os.path.join(run_dir, "learning_curve.png"),
                                     title=f"{agent_name} on {env_name}", step_metric=train.step_metric)
    return out


def evaluate_run(run_dir: str, episodes: int = 10, key: jax.Array | None = None) -> np.ndarray:
    """The mean return of `episodes` greedy episodes of every seed of the run in `run_dir`, from its
    latest usable checkpoint: each seed's policy (`agents.make_policy`, with its training
    observation statistics) plays one episode in each of `episodes` envs (`agents.evaluate_policy`,
    the same envs for every seed, picked by `key`, default `key(0)`). Returns shape [num_seeds].

    Raises `checkpoint.CheckpointError` for a directory that is not a run, or a run without checkpoints.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be an int >= 1, got {episodes!r}")
    name, config, state, num_seeds = _restore_run(run_dir)
    key = jax.random.key(0) if key is None else key
    returns = [agents.evaluate_policy(agents.make_policy(config, state, member=i, agent=name), episodes, key)
               for i in range(num_seeds)]
    return np.asarray(returns, np.float32)


def run_policy(run_dir: str, member: int = 0) -> agents.Policy:
    """The policy of seed `member` of the run in `run_dir`, from its latest usable checkpoint (with
    its training observation statistics), e.g. to save it or to collect a dataset with it."""
    name, config, state, num_seeds = _restore_run(run_dir)
    if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < num_seeds:
        raise ValueError(f"member must be an int in [0, {num_seeds}) for the run in {run_dir}, got {member!r}")
    return agents.make_policy(config, state, member=member, agent=name)


def progress_total(train: Any) -> int:
    """The step count a run's progress reaches at its end: its iterations' steps, plus the steps
    an off-policy loop takes before its first iteration to fill its n-step window (they count in
    its `env_steps`; the bar showed 101% without them)."""
    prefill = getattr(train.config, "prefill_env_steps", 0) if train.step_metric == "env_steps" else 0
    return train.num_iterations * train.steps_per_iteration + prefill


DATA_FIELDS = ("dataset", "demonstrations")


def data_layouts(config: Any) -> dict:
    """{field: the shapes and dtypes of its dataset} for the config's dataset or demonstrations
    (config.json's "data"): what `restorable_train` builds on instead of the directory."""
    return {field: datasets.layout(getattr(config, field)) for field in DATA_FIELDS
            if isinstance(getattr(config, field, None), str) and os.path.isdir(getattr(config, field))}


def restorable_train(name: str, config: Any, stored: dict, *, resume: bool = False) -> Any:
    """`config`'s program for a run whose state comes from its checkpoints (`stored`: its
    config.json), which hold the rows of its dataset: built on zero rows of the recorded layout
    instead of the dataset's directory, which may have moved or changed since. A resumed run with
    demonstrations reads them again: some agents build from them (PWIL's atoms, GAIL's inputs);
    its evaluation and policy do not need them. Runs recorded without a layout read the directory."""
    module = agents.get(name)
    for field, arrays in stored.get("data", {}).items():
        if field in DATA_FIELDS and getattr(config, field, None) is not None and (field == "dataset" or not resume):
            return module.make_train(config, datasets.placeholder(arrays))
    return module.make_train(config)


def _restore_run(run_dir: str) -> tuple[str, Any, TrainState, int]:
    """The agent's name, config, latest restored population state and number of seeds of a run."""
    stored = read_run_config(run_dir)
    name = stored["agent"]
    module = agents.get(name)
    config = config_from_json(module.Config, stored["config"])
    checkpoint_dir = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(checkpoint_dir):
        raise checkpoint.CheckpointError(f"{run_dir} has no checkpoints: train it with --checkpoint-every N "
                                         "(train_to_dir(..., checkpoint_every=N))")
    train = restorable_train(name, config, stored)
    keys = population_keys(stored["seed"], stored["num_seeds"])
    if getattr(train, "host_loop", False):
        target = train.abstract_population(keys)
    else:
        target = jax.eval_shape(jax.vmap(train.init), keys)  # shapes only: nothing is trained or initialised
    with checkpoint.Checkpointer(checkpoint_dir, max_to_keep=None, read_only=True) as checkpointer:
        _, state, _ = checkpointer.restore_latest(target, on_skip=lambda bad, error: _warn(
            f"skipping checkpoint {bad}: {error}"))
    return name, config, state, stored["num_seeds"]


def _partial_note(checkpointer: checkpoint.Checkpointer) -> str:
    partial = checkpointer.partial_saves()
    return (f" (only unfinished saves: {', '.join(map(os.path.basename, partial))}; start the run again, with "
            f"--overwrite (overwrite=True) to replace its files)" if partial else "")


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)
