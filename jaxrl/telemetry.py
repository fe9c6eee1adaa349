"""Metric sinks: a rich progress bar, a tidy CSV, TensorBoard event files.

Two ways to feed them, both per population member:
- the chunked driver calls `sink.write(metrics, first_iteration)` after each compiled chunk with
  host arrays of shape [num_seeds, chunk_iterations] (nothing is compiled into the program);
- `LiveCallback(sinks)` handed to `Train.with_callback` receives every iteration's metrics from
  inside the compiled loop through `jax.experimental.io_callback` and calls
  `sink.write_row(member, iteration, row)`.
Without either, the program contains no callback at all.
"""

from __future__ import annotations

import csv
import datetime
import os
import time
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

# Columns every agent reports, in this order, before the agent's own metrics.
LEADING_COLUMNS = ("env_steps", "learner_steps", "episode_return")


class Sink(Protocol):
    def write(self, metrics: Mapping[str, np.ndarray], first_iteration: int) -> None: ...

    def close(self) -> None: ...


class RowSink(Protocol):
    """A sink that also takes one member's iteration at a time (from `LiveCallback`)."""

    def write_row(self, member: int, iteration: int, row: Mapping[str, np.ndarray]) -> None: ...

    def close(self) -> None: ...


def metric_columns(names: Sequence[str]) -> list[str]:
    """Shared names first (`env_steps`, `episode_return`), then the rest alphabetically."""
    rest = sorted(n for n in names if n not in LEADING_COLUMNS)
    return [n for n in LEADING_COLUMNS if n in names] + rest


class CSVSink:
    """Writes one row per iteration and seed: `seed, iteration, env_steps, episode_return, ...`.

    `seeds` labels the population rows (e.g. [0, 1, 2, 3]); `append=True` continues a file.
    """

    def __init__(self, path: str, seeds: Sequence[int], append: bool = False):
        self.path = path
        self.seeds = list(seeds)
        self._columns: list[str] | None = None
        exists = append and os.path.exists(path) and os.path.getsize(path) > 0
        self._file = open(path, "a" if exists else "w", newline="")
        self._writer = csv.writer(self._file)
        self._header_written = exists

    def write(self, metrics: Mapping[str, np.ndarray], first_iteration: int,
              seeds: Sequence[int] | None = None) -> None:
        """Rows for `metrics` [num_seeds, n] of iterations first_iteration + 1 ... (`seeds` labels
        the rows; default: the sink's)."""
        if self._columns is None:
            self._columns = metric_columns(list(metrics))
        if not self._header_written:
            self._writer.writerow(["seed", "iteration", *self._columns])
            self._header_written = True
        num_iterations = next(iter(metrics.values())).shape[1]
        for s, seed in enumerate(self.seeds if seeds is None else seeds):
            for i in range(num_iterations):
                row = [seed, first_iteration + i + 1]
                row += [_format(metrics[c][s, i]) for c in self._columns]
                self._writer.writerow(row)
        self._file.flush()

    def write_row(self, member: int, iteration: int, row: Mapping[str, np.ndarray]) -> None:
        """One member's metrics at `iteration` (1-based), labelled `seeds[member]`."""
        self.write({k: np.reshape(v, (1, 1)) for k, v in row.items()}, iteration - 1, seeds=[self.seeds[member]])

    def close(self) -> None:
        self._file.close()


class TensorBoardSink:
    """TensorBoard event files, one run per population member: `<log_dir>/seed_<seed>/`.

    Every metric except `env_steps` becomes a scalar named after it, plotted against env steps
    (the x-axis that compares agents with different iteration sizes). Written with tensorboardX;
    open with `tensorboard --logdir <log_dir>`.
    """

    def __init__(self, log_dir: str, seeds: Sequence[int], step_metric: str = "env_steps", resume: bool = False):
        import tensorboardX  # noqa: F401  (missing: an error now, not at the first row)

        self.step_metric = step_metric  # the x-axis (`Train.step_metric`)
        self.log_dir = log_dir
        self.seeds = list(seeds)
        self.resume = resume
        self._writers: dict[int, Any] = {}

    def _writer(self, seed: int, step: int) -> Any:
        """The seed's writer, made at its first row: a `resume`d run (from a checkpoint) starts
        its files with a purge at that row's step, so TensorBoard hides the interrupted run's
        events from there on, which the resumed run writes again."""
        if seed not in self._writers:
            from tensorboardX import SummaryWriter

            self._writers[seed] = SummaryWriter(os.path.join(self.log_dir, f"seed_{seed}"),
                                                purge_step=step if self.resume else None)
        return self._writers[seed]

    def write(self, metrics: Mapping[str, np.ndarray], first_iteration: int) -> None:
        num_iterations = next(iter(metrics.values())).shape[1]
        for s, seed in enumerate(self.seeds):
            for i in range(num_iterations):
                self._add(seed, {k: v[s, i] for k, v in metrics.items()}, first_iteration + i + 1)
        for writer in self._writers.values():
            writer.flush()

    def write_row(self, member: int, iteration: int, row: Mapping[str, np.ndarray]) -> None:
        self._add(self.seeds[member], row, iteration)
        self._writers[self.seeds[member]].flush()

    def _add(self, seed: int, row: Mapping[str, np.ndarray], iteration: int) -> None:
        step = int(row[self.step_metric]) if self.step_metric in row else iteration
        writer = self._writer(seed, step)
        for name, value in row.items():
            # `eval_return` is NaN where the iteration was not evaluated: no point (and no
            # tensorboardX warning for each), where a CSV keeps the empty cell.
            if name != self.step_metric and not (name == "eval_return" and np.isnan(value)):
                writer.add_scalar(name, float(value), global_step=step)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()


class LiveCallback:
    """The host side of `Train.with_callback`: hands each (member, iteration, metrics) row that
    the compiled loop emits to every sink's `write_row`."""

    def __init__(self, sinks: Sequence[RowSink]):
        self.sinks = list(sinks)

    def __call__(self, member: int, iteration: int, row: Mapping[str, np.ndarray]) -> None:
        for sink in self.sinks:
            sink.write_row(member, iteration, row)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def _format(x) -> str:
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        return str(int(x))
    return repr(float(x))


class ProgressBar:
    """Progress over env steps (or `step_metric`), with steps/s and the latest mean return: a rich
    bar on a terminal; where the output is not one (a log file, a batch job, CI), which a live bar
    cannot redraw, a plain line each time the run passes another tenth of its steps."""

    def __init__(self, total_env_steps: int, description: str = "training", disable: bool = False,
                 step_metric: str = "env_steps", console: Any = None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._console = console if console is not None else Console()
        self._total, self._description, self._disable = total_env_steps, description, disable
        self._plain = not (self._console.is_terminal or self._console.is_jupyter)  # a notebook shows the bar
        self._tenths_logged = 0  # plain output: tenths of the run already reported
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(step_metric.replace("_", " ")),
            TextColumn("{task.fields[speed]}"),
            TextColumn("return {task.fields[ret]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            disable=disable or self._plain,
        )
        self._task = self._progress.add_task(description, total=total_env_steps, speed="", ret="-")
        self._progress.start()
        self._opened = self._start = time.perf_counter()
        self._start_steps: int | None = None
        self.step_metric = step_metric  # what the bar counts (`Train.step_metric`)

    def write(self, metrics: Mapping[str, np.ndarray], first_iteration: int) -> None:
        steps = int(np.asarray(metrics[self.step_metric])[0, -1])
        if self._start_steps is None:  # the first chunk includes compilation; rate from here on
            self._start_steps, self._start = steps, time.perf_counter()
            speed = ""
        else:
            elapsed = max(time.perf_counter() - self._start, 1e-9)
            seeds = np.asarray(metrics[self.step_metric]).shape[0]
            speed = f"{(steps - self._start_steps) * seeds / elapsed:,.0f} steps/s"
        ret = float(np.mean(np.asarray(metrics["episode_return"])[:, -1]))
        self._progress.update(self._task, completed=steps, speed=speed, ret=f"{ret:.1f}")
        tenths = 10 * steps // max(self._total, 1)
        if self._plain and not self._disable and tenths > self._tenths_logged:
            self._tenths_logged = tenths
            elapsed = datetime.timedelta(seconds=round(time.perf_counter() - self._opened))
            self._console.print(
                f"{self._description}: {steps:,}/{self._total:,} {self.step_metric.replace('_', ' ')} "
                f"({100 * steps // max(self._total, 1)}%), {speed or 'rate after the first chunk'}, "
                f"return {ret:.1f}, {elapsed} elapsed", markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self._progress.stop()
