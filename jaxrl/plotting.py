"""Learning curves from a run's `metrics.csv` (matplotlib, no display needed)."""

from __future__ import annotations

import csv
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_metrics(path: str) -> dict[str, np.ndarray]:
    """Reads a tidy metrics CSV into arrays of shape [num_seeds, num_iterations] per column."""
    rows: dict[int, list[dict[str, str]]] = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows[int(row["seed"])].append(row)
    seeds = sorted(rows)
    for seed in seeds:  # rows stream in chunk by chunk; order each seed's by iteration
        rows[seed].sort(key=lambda r: int(r["iteration"]))
    columns = [c for c in rows[seeds[0]][0] if c not in ("seed",)]
    return {c: np.array([[float(r[c]) for r in rows[s]] for s in seeds]) for c in columns} | {
        "seed": np.array(seeds)
    }


def plot_learning_curve(csv_path: str, png_path: str, title: str = "", metric: str = "episode_return",
                        step_metric: str = "env_steps") -> None:
    """Mean over seeds against env steps (or the run's `step_metric`), with the min-max spread shaded."""
    data = read_metrics(csv_path)
    steps = data[step_metric][0]
    values = data[metric]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    mean = values.mean(axis=0)
    ax.plot(steps, mean, label=f"mean of {values.shape[0]} seed(s)")
    if values.shape[0] > 1:
        ax.fill_between(steps, values.min(axis=0), values.max(axis=0), alpha=0.25, label="min-max over seeds")
    ax.set_xlabel("environment steps" if step_metric == "env_steps" else step_metric.replace("_", " "))
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
