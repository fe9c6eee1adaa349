"""Reference results: every registered agent on its standard environments, one table.

    python -m experiments.baselines [--agents ppo dqn ...] [--envs CartPole-v1 ...] [--seeds 8]
                                    [--profile cpu|full] [--force] [--out docs]
    python -m experiments.baselines --check

Each row (an agent on an environment at the profile's budget) trains all seeds as one
`jax.jit(jax.vmap(train))` program, then plays every seed's greedy policy (`Train.evaluate`, the
training run's own evaluation envs). Rows are stored as they finish in `<out>/baselines/results.csv`
(one line per row, the per-seed numbers included so a later run can be compared with them) and
`<out>/baselines/curves/*.csv` (every seed's return against env steps); `<out>/baselines.md` and
the plots are rebuilt from the stored rows after each one. A row already stored for the same
profile and seeds is skipped unless `--force`: an interrupted run continues where it stopped.

Scores per row: each seed's final return is the mean of its `episode_return` over the last tenth
of its iterations (the episodes that ended there); the table gives their interquartile mean
(IQM) with a 95% stratified-bootstrap interval (rliable, Agarwal et al. 2021), their mean and
minimum, and the mean greedy return. Wall time counts compilation and training; env steps/s
counts training only.

`--check` reruns a small slice (each agent on its cheapest env, 4 seeds, short budgets) and fails
when a result falls outside the interval stored for it in `<out>/baselines/check.csv`. On one
machine a rerun is bit for bit the recorded one; after a change to the code, or on another CPU,
its numbers differ by chance as much as any 4 seeds do. So the stored interval is where the IQM
of 4 seeds of the unchanged agent falls 99% of the time: `--check --force` trains each slice row
with 64 seeds and stores the 0.5% and 99.5% quantiles of the IQM of 4 seeds drawn from them.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import functools
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence

import jax
import numpy as np

import jaxrl
from jaxrl import agents, driver

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the table: an agent on an environment with the profile's config changes.

    `bar` is the return the environment's users call solved (None where there is no usual bar).
    """

    agent: str
    env: str
    config: dict = dataclasses.field(default_factory=dict)
    bar: float | None = None

    @property
    def key(self) -> str:
        return f"{self.agent}/{self.env}"

    def make_config(self) -> Any:
        return agents.get(self.agent).Config(env=self.env, **self.config)


# The usual bars (the environment's "solved" threshold as its users quote it).
BARS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0, "brax/inverted_pendulum": 900.0}
# Returns that count as 1 in the performance profiles' normalised scores, (return - random) /
# (reference - random): the bars, and gym's reward thresholds where no bar is asked for.
REFERENCES = {**BARS, "MountainCar-v0": -110.0, "MountainCarContinuous-v0": 90.0}

# Continuous off-policy agents at (64, 64), as in their tests: affordable on two cores.
_SMALL = dict(hidden_sizes=(64, 64))
_CONTINUOUS = ("sac", "td3", "ddpg", "d4pg")


def _cpu_profile() -> list[Row]:
    rows = [
        Row("ppo", "CartPole-v1", {}),
        Row("ppo", "Acrobot-v1", dict(total_timesteps=500_000)),
        Row("ppo", "MountainCar-v0", dict(total_timesteps=1_000_000)),
        Row("dqn", "CartPole-v1", {}),
        Row("dqn", "Acrobot-v1", dict(total_timesteps=200_000, learning_starts=1_000, target_update_every=500)),
        Row("dqn", "MountainCar-v0", dict(total_timesteps=500_000, learning_starts=1_000)),
        Row("ppo", "Pendulum-v1", dict(num_envs=16, rollout_length=64, total_timesteps=1_024_000, num_epochs=10,
                                       num_minibatches=16, gamma=0.95, learning_rate=1e-3, normalize_observations=True,
                                       ent_coef=0.0, max_grad_norm=0.5)),
    ]
    for agent in _CONTINUOUS:
        rows.append(Row(agent, "Pendulum-v1", dict(_SMALL, total_timesteps=20_000, learning_starts=1_000)))
    return [dataclasses.replace(row, bar=BARS.get(row.env)) for row in rows]


def _full_profile() -> list[Row]:
    """The budgets the peers publish, for a machine with an accelerator."""
    classic = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0")
    rows = [Row("ppo", env, dict(total_timesteps=5_000_000)) for env in classic]
    rows += [Row("dqn", env, dict(total_timesteps=1_000_000)) for env in classic]
    for env in ("brax/halfcheetah", "brax/hopper", "brax/ant"):
        rows.append(Row("ppo", env, dict(num_envs=2048, rollout_length=10, total_timesteps=50_000_000, num_epochs=4,
                                         num_minibatches=32, normalize_observations=True, learning_rate=3e-4,
                                         continuous_policy="tanh_gaussian", ent_coef=1e-2)))
        rows += [Row(agent, env, dict(total_timesteps=1_000_000, learning_starts=10_000)) for agent in _CONTINUOUS]
    return [dataclasses.replace(row, bar=BARS.get(row.env)) for row in rows]


# The --check slice: each agent on its cheapest env, 4 seeds, short budgets (its own settings,
# stored beside the table with their intervals).
CHECK_SEEDS = 4
CHECK_RECORD_SEEDS = 64
CHECK_COVERAGE = 0.99
CHECK = [
    Row("ppo", "CartPole-v1", dict(total_timesteps=65_536, hidden_sizes=(32, 32))),
    Row("dqn", "CartPole-v1", dict(total_timesteps=30_000, learning_starts=1_000, target_update_every=500,
                                   hidden_sizes=(32, 32))),
] + [Row(agent, "Pendulum-v1", dict(total_timesteps=4_000, learning_starts=500, steps_per_iteration=500,
                                    batch_size=64, hidden_sizes=(32, 32))) for agent in _CONTINUOUS]

PROFILES = {"cpu": _cpu_profile, "full": _full_profile}

COLUMNS = ["profile", "agent", "env", "env_steps", "seeds", "iqm", "ci_low", "ci_high", "mean", "min", "eval_mean",
           "random", "bar", "wall_s", "compile_s", "env_steps_per_s", "version", "commit", "date", "machine", "config",
           "finals", "evals"]


# ---- running a row -------------------------------------------------------------------------------


def final_returns(episode_return: np.ndarray) -> np.ndarray:
    """Each seed's mean `episode_return` over the last tenth of its iterations (at least one)."""
    returns = np.asarray(episode_return, np.float64)
    tail = max(1, returns.shape[1] // 10)
    return returns[:, -tail:].mean(axis=1)


def iqm_interval(scores: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """The interquartile mean of `scores` [seeds] and its 95% stratified-bootstrap interval (rliable)."""
    from rliable import library

    scores = np.asarray(scores, np.float64).reshape(-1, 1)  # [runs, tasks]
    np.random.seed(seed)  # rliable's bootstrap draws from numpy's global generator
    point, interval = library.get_interval_estimates({"row": scores}, lambda s: np.array([iqm(s)]), reps=reps)
    return float(point["row"][0]), float(interval["row"][0, 0]), float(interval["row"][1, 0])


def iqm(scores: np.ndarray, axis: int | None = None) -> np.ndarray:
    """The interquartile mean: the mean of the middle half (25% trimmed from each end, as rliable)."""
    from scipy import stats

    return stats.trim_mean(scores, proportiontocut=0.25, axis=axis)


def prediction_interval(finals: np.ndarray, seeds: int, coverage: float = CHECK_COVERAGE, reps: int = 20_000,
                        seed: int = 0) -> tuple[float, float]:
    """Where the IQM of `seeds` seeds falls with probability `coverage`, estimated by drawing
    `seeds` of the recorded `finals` with replacement `reps` times."""
    draws = np.random.default_rng(seed).choice(np.asarray(finals, np.float64), size=(reps, seeds), replace=True)
    low, high = np.quantile(iqm(draws, axis=1), [(1 - coverage) / 2, (1 + coverage) / 2])
    return float(low), float(high)


def random_return(config: Any, episodes: int = 100) -> float:
    """The mean return of uniformly random actions on `config`'s environment (one episode in each
    of `episodes` envs): the zero of the normalised scores. Computed once per environment and
    time limit, whichever agent's row asks."""
    return _random_return(config.env, config.episode_length, episodes)


@functools.lru_cache(maxsize=None)
def _random_return(env_name: str, episode_length: int | None, episodes: int) -> float:
    from jaxrl import envs
    from jaxrl.loops.common import TrainState
    from jaxrl.loops.evaluate import make_evaluate
    from jaxrl.types import Agent

    # The agents' evaluation env (builder.make_eval_env): auto-reset, statistics, the time limit.
    env = envs.make_batched(env_name, episodes, episode_length=episode_length, normalize_observations=False)
    sample = env.spec().action.sample

    def act(agent_state, actor_state, observation, key, hparams, eval=True, env_steps=None):
        return jax.vmap(sample)(jax.random.split(key, episodes)), actor_state, {}

    evaluate = make_evaluate(env, Agent(init=None, act=act, update=None))
    zero = jax.numpy.zeros((), jax.numpy.int32)
    state = TrainState(agent_state=None, actor_state=None, env_state=None, observation=None, buffer_state=None,
                       key=None, iteration=zero, env_steps=zero, hparams=None, episode_return=None, episode_length=None)
    return float(jax.jit(evaluate)(state, jax.random.key(0)))


def run_row(row: Row, seeds: int, seed: int = 0) -> dict[str, Any]:
    """Trains `seeds` seeds of `row` as one vmapped program and measures it; returns the result
    (the table's fields) and `curve` (env steps [iterations], returns [seeds, iterations])."""
    config = row.make_config()
    train = agents.get(row.agent).make_train(config)
    keys = driver.population_keys(seed, seeds)
    start = time.perf_counter()
    program = jax.jit(jax.vmap(train)).lower(keys).compile()
    compiled = time.perf_counter()
    out = jax.block_until_ready(program(keys))
    trained = time.perf_counter()
    eval_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, train.num_iterations)
    evals = np.asarray(jax.jit(jax.vmap(train.evaluate))(out.state, eval_keys), np.float64)
    returns = np.asarray(out.metrics["episode_return"], np.float64)
    if not np.all(np.isfinite(returns)):
        raise FloatingPointError(f"{row.key}: non-finite episode returns")
    finals = final_returns(returns)
    point, low, high = iqm_interval(finals)
    env_steps = int(train.num_iterations * train.steps_per_iteration)
    return dict(
        agent=row.agent, env=row.env, env_steps=env_steps, seeds=seeds, iqm=point, ci_low=low, ci_high=high,
        mean=float(finals.mean()), min=float(finals.min()), eval_mean=float(evals.mean()),
        random=round(random_return(config), 2), bar="" if row.bar is None else row.bar,
        wall_s=round(trained - start, 2), compile_s=round(compiled - start, 2),
        env_steps_per_s=int(env_steps * seeds / (trained - compiled)), version=jaxrl.__version__, commit=_commit(),
        date=datetime.date.today().isoformat(), machine=_machine(),
        config=" ".join(f"{k}={v}" for k, v in sorted(row.config.items())),
        finals=" ".join(f"{x:.6g}" for x in finals), evals=" ".join(f"{x:.6g}" for x in evals),
        curve=(np.asarray(out.metrics["env_steps"][0], np.int64), returns),
    )


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        return out + ("+" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> str:
    devices = jax.devices()
    return f"{devices[0].platform}:{len(devices)}x{devices[0].device_kind} {os.cpu_count()} cores {platform.machine()}"


# ---- storage -------------------------------------------------------------------------------------


def read_results(path: str) -> list[dict[str, str]]:
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_results(path: str, rows: list[dict[str, Any]]) -> None:
    """Writes all rows atomically (a temporary file renamed over the old one)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in COLUMNS})
    os.replace(tmp, path)


def curve_path(out: str, profile: str, agent: str, env: str) -> str:
    return os.path.join(out, "baselines", "curves", f"{profile}-{agent}-{env.replace('/', '_')}.csv")


def write_curve(path: str, env_steps: np.ndarray, returns: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    table = np.concatenate([env_steps[:, None].astype(np.float64), returns.T], axis=1)
    header = "env_steps," + ",".join(f"seed{i}" for i in range(returns.shape[0]))
    tmp = path + ".tmp"
    np.savetxt(tmp, table, delimiter=",", header=header, comments="", fmt="%.6g")
    os.replace(tmp, path)


def read_curve(path: str) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return table[:, 0], table[:, 1:].T


# ---- the table and plots -------------------------------------------------------------------------


def _fmt(x: str | float, digits: int = 1) -> str:
    try:
        return f"{float(x):,.{digits}f}"
    except (TypeError, ValueError):
        return str(x) if x not in (None, "") else "-"


def markdown_table(results: list[dict[str, str]], profile: str) -> str:
    lines = ["| agent | env | env steps | seeds | IQM [95% CI] | mean | min | greedy eval | bar | wall s | "
             "env steps/s |", "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |"]
    for r in results:
        if r["profile"] != profile:
            continue
        bar = "-" if r["bar"] in ("", None) else (f"{_fmt(r['bar'], 0)} " + (
            "yes" if float(r["iqm"]) >= float(r["bar"]) else "**below**"))
        lines.append(f"| {r['agent']} | {r['env']} | {int(float(r['env_steps'])):,} | {r['seeds']} | "
                     f"{_fmt(r['iqm'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] | {_fmt(r['mean'])} | "
                     f"{_fmt(r['min'])} | {_fmt(r['eval_mean'])} | {bar} | {_fmt(r['wall_s'], 0)} | "
                     f"{int(float(r['env_steps_per_s'])):,} |")
    return "\n".join(lines)


def write_markdown(out: str, results: list[dict[str, str]], profile: str) -> str:
    rows = [r for r in results if r["profile"] == profile]
    provenance = sorted({(r["version"], r["commit"], r["date"], r["machine"]) for r in rows})
    text = [
        "# Baselines",
        "",
        f"Generated by `python -m experiments.baselines --profile {profile}` (rows stored in "
        "`docs/baselines/results.csv`; curves in `docs/baselines/curves/`). Each row trains all seeds as one "
        "`jax.jit(jax.vmap(train))` program. A seed's final return is the mean of its episode returns over the "
        "last tenth of training; IQM is their interquartile mean with a 95% stratified-bootstrap interval "
        "(rliable); greedy eval is the mean over seeds of 10 greedy episodes after training. Wall time includes "
        "compilation; env steps/s (all seeds together) does not.",
        "",
        markdown_table(results, profile),
        "",
        "Runs: " + "; ".join(f"jaxrl {v} at {c}, {d}, {m}" for v, c, d, m in provenance),
        "",
    ]
    path = os.path.join(out, "baselines.md")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(text))
    os.replace(path + ".tmp", path)
    return path


def _color(agent: str) -> str:
    """One colour per agent in every figure (its place in the registry)."""
    names = agents.names()
    return f"C{names.index(agent) % 10}" if agent in names else "k"


def _save(fig: Any, ax: Any, title: str, xlabel: str, ylabel: str, legend: str, png: str) -> str:
    """Labels, grid and legend on `ax`; writes `fig` to `png` and closes it."""
    import matplotlib.pyplot as plt

    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


def plot_curves(out: str, results: list[dict[str, str]], profile: str) -> list[str]:
    """One figure per environment: each agent's mean return against env steps with a 95%
    bootstrap band of the mean over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    paths = []
    envs = sorted({r["env"] for r in results if r["profile"] == profile})
    for env in envs:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
        for r in results:
            if r["profile"] != profile or r["env"] != env:
                continue
            path = curve_path(out, profile, r["agent"], env)
            if not os.path.isfile(path):
                continue
            steps, returns = read_curve(path)
            means = rng.choice(returns, size=(1000, returns.shape[0]), axis=0).mean(axis=1)  # [reps, iterations]
            low, high = np.percentile(means, [2.5, 97.5], axis=0)
            ax.plot(steps, returns.mean(axis=0), label=r["agent"], color=_color(r["agent"]))
            ax.fill_between(steps, low, high, alpha=0.25, color=_color(r["agent"]))
        if env in BARS:
            ax.axhline(BARS[env], color="grey", lw=0.8, ls="--", label="usual bar")
        paths.append(_save(fig, ax, f"{env} ({profile} profile)", "environment steps", "episode return",
                            "lower right", os.path.join(out, "baselines", f"{profile}-{env.replace('/', '_')}.png")))
    return paths


FAMILIES = {"discrete actions": ("CartPole-v1", "Acrobot-v1", "MountainCar-v0"),
            "continuous actions": ("Pendulum-v1", "MountainCarContinuous-v0", "brax/inverted_pendulum",
                                   "brax/halfcheetah", "brax/hopper", "brax/ant")}


def normalized_scores(results: list[dict[str, str]], profile: str, envs: Sequence[str]) -> dict[str, np.ndarray]:
    """{agent: [seeds, envs] normalised final returns} for the agents with a row on every env in
    `envs` that has a reference (others are left out of the profile, as rliable needs a full matrix)."""
    rows = [r for r in results if r["profile"] == profile and r["env"] in envs and r["env"] in REFERENCES]
    used = sorted({r["env"] for r in rows})
    scores: dict[str, np.ndarray] = {}
    for agent in sorted({r["agent"] for r in rows}):
        by_env = {r["env"]: r for r in rows if r["agent"] == agent}
        if sorted(by_env) != used:
            continue
        columns = []
        for env in used:
            finals = np.array(by_env[env]["finals"].split(), np.float64)
            random = float(by_env[env]["random"])
            columns.append((finals - random) / (REFERENCES[env] - random))
        if len({len(c) for c in columns}) == 1:
            scores[agent] = np.stack(columns, axis=1)
    return scores


def plot_profiles(out: str, results: list[dict[str, str]], profile: str) -> list[str]:
    """A performance profile per family of environments (Agarwal et al. 2021): the fraction of
    runs whose normalised score exceeds tau, with 95% stratified-bootstrap bands (rliable)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import library

    paths = []
    for family, envs in FAMILIES.items():
        scores = normalized_scores(results, profile, envs)
        if not scores:
            continue
        taus = np.linspace(-0.25, 1.25, 61)
        np.random.seed(0)
        fractions, bands = library.create_performance_profile(scores, taus, reps=500)
        fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
        for agent in scores:
            ax.plot(taus, fractions[agent], label=agent, color=_color(agent))
            ax.fill_between(taus, bands[agent][0], bands[agent][1], alpha=0.2, color=_color(agent))
        paths.append(_save(fig, ax, f"{family} ({profile} profile, {next(iter(scores.values())).shape[1]} env(s))",
                            "normalised score tau ((return - random) / (reference - random))",
                            "fraction of runs with score > tau", "lower left",
                            os.path.join(out, "baselines", f"{profile}-profile-{family.split()[0]}.png")))
    return paths


# ---- the command ---------------------------------------------------------------------------------


def select(rows: Sequence[Row], agents_: Sequence[str] | None, envs: Sequence[str] | None) -> list[Row]:
    known_agents, known_envs = {r.agent for r in rows}, {r.env for r in rows}
    for given, known, what in ((agents_, known_agents, "agents"), (envs, known_envs, "envs")):
        unknown = sorted(set(given or ()) - known)
        if unknown:
            raise SystemExit(f"error: --{what} {unknown} have no rows in this profile; it has {sorted(known)}")
    return [r for r in rows if (not agents_ or r.agent in agents_) and (not envs or r.env in envs)]


def build(args: argparse.Namespace) -> int:
    rows = select(PROFILES[args.profile](), args.agents, args.envs)
    for row in rows:  # every config is checked before anything trains
        row.make_config()
    results_path = os.path.join(args.out, "baselines", "results.csv")
    results = read_results(results_path)
    for row in rows:
        stored = [r for r in results if (r["profile"], r["agent"], r["env"]) == (args.profile, row.agent, row.env)]
        if stored and not args.force and int(stored[0]["seeds"]) == args.seeds:
            print(f"{row.key}: stored ({stored[0]['date']}), skipped; --force reruns it", flush=True)
            continue
        print(f"{row.key}: training {args.seeds} seeds ...", flush=True)
        result = run_row(row, args.seeds)
        steps, returns = result.pop("curve")
        write_curve(curve_path(args.out, args.profile, row.agent, row.env), steps, returns)
        result["profile"] = args.profile
        results = [r for r in results if r not in stored] + [{k: str(v) for k, v in result.items()}]
        write_results(results_path, results)
        write_markdown(args.out, results, args.profile)
        print(f"{row.key}: IQM {result['iqm']:.1f} [{result['ci_low']:.1f}, {result['ci_high']:.1f}], "
              f"greedy {result['eval_mean']:.1f}, {result['wall_s']:.0f} s, {result['env_steps_per_s']:,} steps/s",
              flush=True)
    write_markdown(args.out, results, args.profile)
    plot_curves(args.out, results, args.profile)
    plot_profiles(args.out, results, args.profile)
    return 0


def check(args: argparse.Namespace) -> int:
    """Reruns the check slice; returns 1 (and names them) if any result left its stored interval.
    With `--force`, records the intervals instead (`CHECK_RECORD_SEEDS` seeds per row)."""
    path = os.path.join(args.out, "baselines", "check.csv")
    rows = select(CHECK, args.agents, args.envs)
    if args.force:
        recorded = []
        for row in rows:
            result = run_row(row, CHECK_RECORD_SEEDS)
            result.pop("curve")
            finals = np.array(result["finals"].split(), np.float64)
            result["ci_low"], result["ci_high"] = prediction_interval(finals, CHECK_SEEDS)
            result["profile"] = "check"
            recorded.append({k: str(v) for k, v in result.items()})
            print(f"{row.key}: 4-seed IQM interval [{result['ci_low']:.2f}, {result['ci_high']:.2f}]", flush=True)
        write_results(path, recorded)
        print(f"recorded {len(recorded)} check rows in {path}")
        return 0
    stored = {(r["agent"], r["env"]): r for r in read_results(path)}
    missing = [row.key for row in rows if (row.agent, row.env) not in stored]
    if missing:
        print(f"FAIL {missing}: no stored interval in {path} (record them with --check --force)", file=sys.stderr)
        return 1
    results = {}
    for row in rows:
        result = run_row(row, CHECK_SEEDS)
        results[(row.agent, row.env)] = result["iqm"]
        print(f"{row.key}: IQM {result['iqm']:.2f}", flush=True)
    failures = compare(results, stored)
    for failure in failures:
        print("FAIL " + failure, file=sys.stderr)
    return 1 if failures else 0


def compare(results: dict[tuple[str, str], float], stored: dict[tuple[str, str], dict[str, str]]) -> list[str]:
    """One message per result outside its stored interval (or without one)."""
    failures = []
    for (agent, env), value in results.items():
        reference = stored.get((agent, env))
        if reference is None:
            failures.append(f"{agent}/{env}: no stored interval")
            continue
        low, high = float(reference["ci_low"]), float(reference["ci_high"])
        if not low <= value <= high:
            failures.append(f"{agent}/{env}: IQM {value:.2f} outside the stored interval [{low:.2f}, {high:.2f}]")
    return failures


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m experiments.baselines", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", nargs="+", help="only these agents' rows")
    parser.add_argument("--envs", nargs="+", help="only these environments' rows")
    parser.add_argument("--seeds", type=int, default=8, help="seeds per row, one vmapped program (default 8)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu",
                        help="cpu: the whole table on a 2-core machine; full: the peers' published budgets")
    parser.add_argument("--force", action="store_true", help="rerun rows already stored (with --check: re-record)")
    parser.add_argument("--check", action="store_true", help="rerun the regression slice against its intervals")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="where baselines.md and baselines/ go")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    return check(args) if args.check else build(args)


if __name__ == "__main__":
    sys.exit(main())
