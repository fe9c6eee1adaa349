"""Metric sinks for the host driver: a rich progress bar and a tidy CSV.

The driver calls `sink.write(metrics, first_iteration)` after each compiled chunk with host
arrays of shape [num_seeds, chunk_iterations]; nothing here runs inside compiled code.
"""

from __future__ import annotations

import csv
import os
import time
from typing import Mapping, Protocol, Sequence

import numpy as np

# Columns every agent reports, in this order, before the agent's own metrics.
LEADING_COLUMNS = ("env_steps", "episode_return")


class Sink(Protocol):
    def write(self, metrics: Mapping[str, np.ndarray], first_iteration: int) -> None: ...

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

    def write(self, metrics: Mapping[str, np.ndarray], first_iteration: int) -> None:
        if self._columns is None:
            self._columns = metric_columns(list(metrics))
        if not self._header_written:
            self._writer.writerow(["seed", "iteration", *self._columns])
            self._header_written = True
        num_iterations = next(iter(metrics.values())).shape[1]
        for s, seed in enumerate(self.seeds):
            for i in range(num_iterations):
                row = [seed, first_iteration + i + 1]
                row += [_format(metrics[c][s, i]) for c in self._columns]
                self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _format(x) -> str:
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        return str(int(x))
    return repr(float(x))


class ProgressBar:
    """A rich progress bar over env steps, showing steps/s and the latest mean return."""

    def __init__(self, total_env_steps: int, description: str = "training", disable: bool = False):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("env steps"),
            TextColumn("{task.fields[speed]}"),
            TextColumn("return {task.fields[ret]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=disable,
        )
        self._task = self._progress.add_task(description, total=total_env_steps, speed="", ret="-")
        self._progress.start()
        self._start = time.perf_counter()
        self._start_steps: int | None = None

    def write(self, metrics: Mapping[str, np.ndarray], first_iteration: int) -> None:
        steps = int(np.asarray(metrics["env_steps"])[0, -1])
        if self._start_steps is None:  # the first chunk includes compilation; rate from here on
            self._start_steps, self._start = steps, time.perf_counter()
            speed = ""
        else:
            elapsed = max(time.perf_counter() - self._start, 1e-9)
            seeds = np.asarray(metrics["env_steps"]).shape[0]
            speed = f"{(steps - self._start_steps) * seeds / elapsed:,.0f} steps/s"
        ret = float(np.mean(np.asarray(metrics["episode_return"])[:, -1]))
        self._progress.update(self._task, completed=steps, speed=speed, ret=f"{ret:.1f}")

    def close(self) -> None:
        self._progress.stop()
