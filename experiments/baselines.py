"""Reference results: every registered agent on its standard environments, one table.

    python -m experiments.baselines [--agents ppo dqn ...] [--envs CartPole-v1 ...] [--seeds 8]
                                    [--profile cpu|full] [--force] [--out docs]
    python -m experiments.baselines --check
    python -m experiments.baselines --peers rejax [--peer-python PATH]

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
minimum, and the mean greedy return. Wall time counts compilation and one training run; env
steps/s counts training only, and is the fastest of up to `TIMED_RUNS` runs of the compiled
program, repeated while the runs so far took under `TIMED_SECONDS` in all (the bit-identical
reruns cost little on short rows, where a moment's load on a shared machine moves the figure most).

`--peers rejax` runs Rejax (Liesen et al. 2024) on the same rows: the same gymnax environment,
budget, seeds (one vmapped program), network sizes, batch sizes and update ratios, mapped from the
row's config by `rejax_settings` (rows it cannot express, such as brax ones, say why and have no
peer). Each peer row runs right after its jaxrl row in the same invocation, so their env steps/s
share the machine's state and their ratio is stored with the peer row. Both libraries' rows are
compared on the policy a user gets after training: jaxrl's greedy evaluation against Rejax's own
end-of-training evaluation (`experiments/baselines_rejax.py`, run by the peer's Python since Rejax
0.1.3 pins gymnax 0.0.9; install it with `../shared/peers/setup.sh`).

`--check` reruns a small slice (each agent on its cheapest env, 4 seeds, short budgets) and fails
when a result falls outside the interval stored for it in `<out>/baselines/check.csv`. On one
machine a rerun of an agent is bit for bit the recorded one unless the slice's faster compile
(LLVM -O2, `check_iqms`) rounds it differently; then, as after a change to the code or on another
CPU, its numbers differ by chance as much as any 4 seeds do. So the stored interval is where the IQM
of 4 seeds of the unchanged agent falls 99% of the time: `--check --force` trains each slice row
with 64 seeds and stores the 0.5% and 99.5% quantiles of the IQM of 4 seeds drawn from them
(`--agents`/`--envs` re-record only those rows, each stored as it finishes). With 23 rows, one
change in five that moves every agent's bits fails a row by chance: `--check --seed 1` draws
other seeds, and a regression fails again.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import datetime
import functools
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Sequence

import jax
import numpy as np

import jaxrl
from jaxrl import agents, datasets, driver
from jaxrl.agents import config as config_lib
from jaxrl.datasets.format import RECORD as DATASET_RECORD

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the table: an agent on an environment with the profile's config changes.

    `bar` is the return the environment's users call solved (None where there is no usual bar).
    `data` names the dataset the agent learns from (`data_dir`): an offline agent's `dataset`, the
    others' `demonstrations`; None for agents that learn from the environment alone. An agent
    family's base agent is `config["direct_rl"]` (its Config class then is that variant's).
    """

    agent: str
    env: str
    config: dict = dataclasses.field(default_factory=dict)
    bar: float | None = None
    data: str | None = None

    @property
    def key(self) -> str:
        return f"{self.agent}/{self.env}"

    def make_config(self) -> Any:
        config_cls = config_lib.variant(agents.get(self.agent).Config, self.config.get("direct_rl"))
        return config_cls(env=self.env, **self.config)


# The usual bars (the environment's "solved" threshold as its users quote it).
BARS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0, "brax/inverted_pendulum": 900.0}
# Returns that count as 1 in the performance profiles' normalised scores, (return - random) /
# (reference - random): the bars, and gym's reward thresholds where no bar is asked for.
REFERENCES = {**BARS, "MountainCar-v0": -110.0, "MountainCarContinuous-v0": 90.0, "MaskedCartPole-v1": 475.0}

# Continuous off-policy agents at (64, 64), as in their tests: affordable on two cores.
_SMALL = dict(hidden_sizes=(64, 64))
_CONTINUOUS = ("sac", "td3", "ddpg", "d4pg")


def _off_policy_rows(env: str, total_timesteps: int, d4pg: dict[str, Any],
                     deterministic: dict[str, Any] | None = None) -> list[Row]:
    """SAC, TD3, DDPG and D4PG on `env` with (64, 64) networks after 1,000 warm-up steps; `d4pg`
    holds D4PG's atom support, `deterministic` what the deterministic actors (not SAC) change."""
    rows = []
    for agent in _CONTINUOUS:
        config = dict(_SMALL, total_timesteps=total_timesteps, learning_starts=1_000)
        if agent != "sac":
            config.update(deterministic or {})
        if agent == "d4pg":
            config.update(d4pg)
        rows.append(Row(agent, env, config))
    return rows


def _cpu_profile() -> list[Row]:
    rows = [
        Row("ppo", "CartPole-v1", {}),
        # Acrobot: Rejax's constant learning rate (training IQM -83.5 against -84.3 annealed) and
        # 32 greedy episodes per seed: with 10, a seed's greedy mean swung by up to 40 steps (one
        # long episode), and the greedy IQM fell below Rejax's interval (-84.1 against -82.1).
        Row("ppo", "Acrobot-v1", dict(total_timesteps=500_000, anneal_lr=False, eval_episodes=32)),
        Row("ppo", "MountainCar-v0", dict(total_timesteps=1_000_000)),
        # PureJaxRL's DQN with a soft target update (tau 0.1 every 50 env steps) in place of a hard
        # copy every 500: with the copy, some seeds forget CartPole late in training (IQM 470).
        Row("dqn", "CartPole-v1", dict(tau=0.1, target_update_every=50)),
        Row("dqn", "Acrobot-v1", dict(total_timesteps=200_000, learning_starts=1_000, target_update_every=500)),
        Row("dqn", "MountainCar-v0", dict(total_timesteps=500_000, learning_starts=1_000)),
        Row("ppo", "Pendulum-v1", dict(num_envs=64, rollout_length=100, total_timesteps=2_048_000, num_epochs=10,
                                       num_minibatches=10, gamma=0.95, learning_rate=1e-3, normalize_observations=True,
                                       ent_coef=0.0, max_grad_norm=10.0)),
    ]
    # D4PG's atoms down to Pendulum's worst discounted return, -16.3 / (1 - 0.99).
    rows += _off_policy_rows("Pendulum-v1", 20_000, d4pg=dict(v_min=-1_600.0))
    # MountainCarContinuous-v0. PPO: Rejax's own settings for it (its configs/gymnax/
    # continuous_mountaincar.yaml); neither library's PPO leaves the valley with them. Independent
    # action noise never builds the momentum to reach the flag (SAC stays in the valley too), so
    # the deterministic actors explore with DDPG's Ornstein-Uhlenbeck noise (stationary std 0.5):
    # at 30k steps all 8 seeds of each reach ~91. D4PG's atoms span the discounted returns, from
    # -0.1 / (1 - 0.99) to the flag's 100.
    rows.append(Row("ppo", "MountainCarContinuous-v0", dict(
        num_envs=5, rollout_length=100, num_epochs=10, num_minibatches=10, learning_rate=3e-4, max_grad_norm=10.0,
        total_timesteps=200_000, gamma=0.9, ent_coef=0.0, activation="relu")))
    rows += _off_policy_rows("MountainCarContinuous-v0", 20_000, d4pg=dict(v_min=-10.0, v_max=100.0),
                             deterministic=dict(total_timesteps=30_000, exploration="ou", exploration_noise=0.5))
    # brax: 32 envs x 32 steps, normalised observations; at lr 3e-4 and 262k steps PPO reached 329.
    # Off-policy at 20k steps only SAC's greedy policy balanced (900); at 40k all four reach 1000.
    # D4PG's atoms over the discounted returns of reward 1 per step: 0 to 100.
    rows.append(Row("ppo", "brax/inverted_pendulum", dict(num_envs=32, rollout_length=32, total_timesteps=1_048_576,
                                                          learning_rate=1e-3, normalize_observations=True)))
    rows += _off_policy_rows("brax/inverted_pendulum", 40_000, d4pg=dict(v_min=0.0, v_max=100.0))
    # brax/hopper, the larger brax env, at what the 2-core machine affords (its physics steps ~6k
    # env steps/s here): early learning, no bar. PPO reached 285 and SAC 304 when tuned. D4PG's
    # atoms over hopper's discounted returns (a few reward per step alive).
    rows.append(Row("ppo", "brax/hopper", dict(num_envs=32, rollout_length=32, total_timesteps=262_144,
                                               learning_rate=3e-4, normalize_observations=True)))
    rows += _off_policy_rows("brax/hopper", 20_000, d4pg=dict(v_min=-100.0, v_max=300.0))
    # PQN at purejaxql's CartPole-v1 settings (its defaults), also on Acrobot-v1, but for the
    # exploration left after the anneal: at purejaxql's epsilon 0.2 the training returns (a random
    # action one step in five) stayed under both bars (IQM 467.9 and -105.1) while the greedy
    # policies reached them. At 0.1 on CartPole all 8 greedy seeds play to 500 (at 0.05 one seed
    # of eight fell to ~300); Acrobot at 0.05 (-93.2; -96.9 at 0.1).
    rows += [Row("pqn", "CartPole-v1", dict(epsilon_end=0.1)), Row("pqn", "Acrobot-v1", dict(epsilon_end=0.05))]
    # Recurrent PPO at PureJaxRL ppo_rnn's CartPole-v1 settings (its defaults); on the velocity-
    # masked CartPole, the settings and budget its learning test had in 2026-11 (a small LSTM,
    # normalised observations, 32 envs x 32 steps; the test now runs a GRU at 128 x 8 with 2
    # epochs), with 8 seeds. Feed-forward PPO's row there shows what memory adds.
    masked = dict(num_envs=32, rollout_length=32, num_minibatches=4, learning_rate=1e-3, core="lstm", core_size=64,
                  hidden_sizes=(64,), normalize_observations=True, total_timesteps=500_000)
    rows += [Row("recurrent_ppo", "CartPole-v1", {}), Row("recurrent_ppo", "MaskedCartPole-v1", masked)]
    rows.append(Row("ppo", "MaskedCartPole-v1", {k: v for k, v in masked.items() if k not in ("core", "core_size")}
                    | dict(hidden_sizes=(64, 64))))
    # IMPALA at its defaults (CartPole-v1 settings; actors on-policy, policy_lag 0), also on
    # Acrobot-v1. On CartPole with a tenth of the default entropy bonus: the training returns are
    # sampled actions, and at 0.01 the policy stayed random enough to end under the bar (IQM 467.9;
    # 470.2 at twice the budget) while its greedy play reached 500.
    rows += [Row("impala", "CartPole-v1", dict(ent_coef=0.001)), Row("impala", "Acrobot-v1", {})]
    # PPO with the conv torso on Breakout-MinAtar (random play ~0.4 per episode), at the budget
    # its learning test affords (tests/test_pixels.py).
    rows.append(Row("ppo", "Breakout-MinAtar", dict(torso="conv", num_envs=16, rollout_length=32, num_epochs=2,
                                                    num_minibatches=2, hidden_sizes=(64,), activation="relu",
                                                    learning_rate=1e-3, total_timesteps=51_200)))
    # R2D2 at its defaults (a small LSTM for the velocity-masked CartPole) with a larger budget than
    # its learning test's 64k; feed-forward DQN's row beside it, with the same budget, warm-up and
    # normalised observations, shows what memory adds. Also on the full CartPole-v1, at 320k steps
    # with the learning rate annealed to 0 over the run: at a constant rate, seeds that had learned
    # the task fell off it late in the run (IQM 445.3, one greedy seed of eight at 200; 463.2 at
    # 480k), and no buffer size, target period, Polyak step, epsilon, width or constant rate tried
    # held above the bar (lab notes, experiments/benchmarks/README.md, 2026-12-03).
    rows += [Row("r2d2", "MaskedCartPole-v1", dict(total_timesteps=160_000)),
             Row("dqn", "MaskedCartPole-v1", dict(total_timesteps=160_000, learning_starts=2_000,
                                                  normalize_observations=True)),
             Row("r2d2", "CartPole-v1", dict(total_timesteps=320_000, anneal_lr=True))]
    # MPO on Pendulum-v1 as the other continuous agents there ((64, 64) networks, 1,000 warm-up
    # steps), with batches of 128 and 8 action samples per state: Acme's 20 samples at batch 256
    # cost ~10x (over 10 minutes for 8 seeds here).
    rows.append(Row("mpo", "Pendulum-v1", dict(_SMALL, total_timesteps=20_000, learning_starts=1_000, batch_size=128,
                                               action_samples=8)))
    rows += _data_rows()
    return [dataclasses.replace(row, bar=BARS.get(row.env)) for row in rows]


def _data_rows() -> list[Row]:
    """The agents that learn from datasets (`data_dir`), at their learning tests' settings with 8
    seeds, or a larger budget where a comment says why: offline agents on Pendulum-v1's
    medium-replay set and CartPole-v1's expert episodes (their steps are gradient updates),
    imitation and learning from demonstrations from 10 expert episodes (env steps, rewards never
    seen by the imitation agents)."""
    pendulum = dict(hidden_sizes=(64, 64))
    offline = dict(pendulum, num_updates=20_000, updates_per_iteration=2_000)
    rows = [Row(agent, "Pendulum-v1", offline, data="medium-replay") for agent in ("bc", "iql", "crr")]
    # TD3+BC's alpha 40, as in its test: this set is mostly random warm-up actions, to which the BC
    # term at the paper's 2.5 holds the actor (8 seeds at 2.5: IQM -1094, about random play).
    rows.insert(1, Row("td3_bc", "Pendulum-v1", dict(offline, alpha=40.0), data="medium-replay"))
    rows.append(Row("cql", "Pendulum-v1", dict(pendulum, num_updates=8_000, updates_per_iteration=800,
                                               num_sampled_actions=4), data="medium-replay"))
    rows += [Row(agent, "CartPole-v1", dict(hidden_sizes=(64, 64), num_updates=2_000, updates_per_iteration=200),
                 data="expert x20") for agent in ("bc", "cql", "bve")]
    imitation = dict(pendulum, total_timesteps=10_000, steps_per_iteration=1_000, learning_starts=1_000)
    rows += [Row(agent, "Pendulum-v1", imitation, data="expert x10") for agent in ("sqil", "ail", "pwil")]
    rows.append(Row("sacfd", "Pendulum-v1", imitation, data="expert x10"))
    # TD3fD at twice the budget: at 10,000 steps three seeds of eight had not learnt the swing-up
    # (IQM -221.9, under the bar), as TD3fD's MountainCar test needed 20,000 steps (its test file).
    rows.append(Row("td3fd", "Pendulum-v1", dict(imitation, total_timesteps=20_000), data="expert x10"))
    # SQIL on DQN at 40,000 steps: at 20,000 the epsilon-greedy training returns stayed under the
    # bar (IQM 431.6, greedy 499.4). GAIL on PPO at 1M steps: at 100k (its test's budget) it
    # improves clearly on random play, as the issue asks, but ended at IQM 317.1; 436.9 at 300k.
    rows.append(Row("sqil", "CartPole-v1", dict(direct_rl="dqn", total_timesteps=40_000, steps_per_iteration=2_000,
                                                learning_starts=1_000, updates_per_step=4), data="expert x10"))
    rows.append(Row("ail", "CartPole-v1", dict(direct_rl="ppo", total_timesteps=1_000_000), data="expert x10"))
    # DQfD at 40,000 steps, as SQIL: at 20,000 (IQM 424.9) two greedy seeds of eight were under the bar.
    rows.append(Row("dqfd", "CartPole-v1", dict(total_timesteps=40_000, steps_per_iteration=2_000,
                                                learning_starts=1_000, updates_per_step=4), data="expert x10"))
    return rows


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
# stored beside the table with their intervals). Every registered agent has a row
# (tests/test_baselines.py holds it to that).
CHECK_SEEDS = 4
CHECK_RECORD_SEEDS = 64
# Per row. After a change that moves every agent's bits, each row is a fresh draw of 4 seeds and
# falls outside its interval 1 time in 100: over 23 rows, about one such change in five fails one
# row by chance. Wider intervals would let some rows pass random play (TD3's at 0.998 did), so a
# failing row is told apart by another draw of seeds instead: `--check --seed 1` (a regression
# fails again; a chance failure passes 99 times in 100).
CHECK_COVERAGE = 0.99
_CHECK_SMALL = dict(hidden_sizes=(32, 32))
_CHECK_CONTINUOUS = dict(_CHECK_SMALL, total_timesteps=8_000, learning_starts=500, steps_per_iteration=500,
                         batch_size=64)
_CHECK_OFFLINE = dict(_CHECK_SMALL, num_updates=8_000, updates_per_iteration=1_000, batch_size=64)
CHECK = [
    Row("ppo", "CartPole-v1", dict(total_timesteps=65_536, hidden_sizes=(32, 32))),
    Row("dqn", "CartPole-v1", dict(total_timesteps=30_000, learning_starts=1_000, target_update_every=500,
                                   hidden_sizes=(32, 32))),
    # SAC at SACfD's (64, 64) and batches of 128, D4PG at 16,000 steps: at (32, 32), 64 and 8,000
    # steps some of their 64 recorded seeds had not swung up, and both intervals reached down past
    # random play's -1,215 (tests/test_baselines.py now holds every interval above random play).
    Row("sac", "Pendulum-v1", dict(_CHECK_CONTINUOUS, hidden_sizes=(64, 64), batch_size=128)),
    Row("td3", "Pendulum-v1", _CHECK_CONTINUOUS),
    Row("ddpg", "Pendulum-v1", _CHECK_CONTINUOUS),
    Row("d4pg", "Pendulum-v1", dict(_CHECK_CONTINUOUS, total_timesteps=16_000)),
    # The budgets below stop each agent part of the way from random play to its bar (4 seeds,
    # 2026-12-06): a slower learner, or one that no longer learns, moves the IQM out of its interval.
    Row("pqn", "CartPole-v1", dict(_CHECK_SMALL, total_timesteps=65_536, num_envs=16, rollout_length=32,
                                   num_minibatches=4)),
    Row("impala", "CartPole-v1", dict(_CHECK_SMALL, total_timesteps=65_536)),
    Row("recurrent_ppo", "CartPole-v1", dict(total_timesteps=131_072, core_size=32, hidden_sizes=(32,))),
    Row("r2d2", "MaskedCartPole-v1", dict(total_timesteps=32_000)),
    Row("mpo", "Pendulum-v1", dict(_CHECK_CONTINUOUS, total_timesteps=16_000, action_samples=4)),
    Row("bc", "CartPole-v1", dict(_CHECK_SMALL, num_updates=100, updates_per_iteration=20), data="expert x20"),
    Row("bve", "CartPole-v1", dict(_CHECK_SMALL, num_updates=500, updates_per_iteration=100), data="expert x20"),
    # TD3+BC's alpha 40 as in its table row; IQL at its default batch of 256 (at 64 it had not left
    # random play by 8,000 updates).
    Row("td3_bc", "Pendulum-v1", dict(_CHECK_OFFLINE, num_updates=12_000, alpha=40.0), data="medium-replay"),
    Row("iql", "Pendulum-v1", dict(_CHECK_OFFLINE, batch_size=256), data="medium-replay"),
    Row("crr", "Pendulum-v1", _CHECK_OFFLINE, data="medium-replay"),
    # CQL at 12,000 updates: at 8,000 its interval's low end sat 37 above random play.
    Row("cql", "Pendulum-v1", dict(_CHECK_OFFLINE, num_updates=12_000, num_sampled_actions=4), data="medium-replay"),
] + [Row(agent, "Pendulum-v1", _CHECK_CONTINUOUS, data="expert x10") for agent in ("sqil", "ail", "pwil")] + [
    # SACfD and TD3fD at (64, 64) and batches of 128: at (32, 32) and 64 their recorded intervals
    # reached down past random play's -1,215 (a few seeds of 64 had not swung up by 8,000 steps).
    Row(agent, "Pendulum-v1", dict(_CHECK_CONTINUOUS, hidden_sizes=(64, 64), batch_size=128), data="expert x10")
    for agent in ("sacfd", "td3fd")] + [
    Row("dqfd", "CartPole-v1", dict(_CHECK_SMALL, total_timesteps=20_000, steps_per_iteration=2_000,
                                    learning_starts=1_000, updates_per_step=4), data="expert x10"),
]
# 8k steps, not 4k, on Pendulum-v1: at 4k every continuous agent but SAC was still near random
# actions' return and the intervals of TD3, DDPG and D4PG held it; at 8k their upper ends are far
# above it (check.csv), so an agent that learns slower fails.

PROFILES = {"cpu": _cpu_profile, "full": _full_profile}

COLUMNS = ["profile", "agent", "env", "env_steps", "seeds", "iqm", "ci_low", "ci_high", "mean", "min", "eval_mean",
           "random", "bar", "wall_s", "compile_s", "env_steps_per_s", "version", "commit", "date", "machine", "config",
           "finals", "evals", "library", "speed_ratio", "data", "expert"]
# Timing (both libraries alike): the compiled program reruns while its runs took < TIMED_SECONDS
# in all, at most TIMED_RUNS times; the fastest run gives env steps/s.
TIMED_SECONDS = 60.0
TIMED_RUNS = 3
# The agents Rejax 0.1.3 has.
REJAX_AGENTS = ("ppo", "dqn", "sac", "td3")


# ---- datasets -------------------------------------------------------------------------------------

# What the data rows learn from, made by the project itself from what tests/data commits (written
# by experiments.collect): the medium-replay sets as committed, the others played by the committed
# medium or expert policies (their sampled actions, seed 0) into DATA_CACHE the first time a row asks.
DATA_ROOT = os.path.normpath(os.path.join(ROOT, "tests", "data"))
DATA_CACHE = os.path.join(tempfile.gettempdir(), "jaxrl-baselines-data")


def data_dir(env: str, data: str, cache: str | None = None) -> str:
    """The directory of `env`'s dataset `data`: "medium-replay" (the committed set), or
    "<kind> x<episodes>" (episodes of the committed `kind` policy, collected into `cache` once)."""
    if data == "medium-replay":
        path = os.path.join(DATA_ROOT, "datasets", env, data)
        if not os.path.isdir(path):
            raise SystemExit(f"error: no committed medium-replay set for {env} ({path})")
        return path
    kind, _, episodes = data.partition(" x")
    policy = os.path.join(DATA_ROOT, "policies", env, kind)
    if not episodes.isdigit() or not os.path.isdir(policy):
        raise SystemExit(f"error: dataset {data!r} of {env}: want 'medium-replay' or '<kind> x<episodes>' with a "
                         f"committed policy in {policy}")
    path = os.path.join(cache or DATA_CACHE, env.replace("/", "_"), f"{kind}-{episodes}")
    if not os.path.isfile(os.path.join(path, DATASET_RECORD)):
        from experiments import collect

        collect.main(["--env", env, "--kind", kind, "--episodes", episodes, "--policy", policy, "--out", path,
                      "--overwrite"])
    return path


def expert_return(env: str, cache: str | None = None) -> float:
    """The mean return of 20 episodes of `env`'s committed expert policy: the 1 of the data rows'
    normalised scores (D4RL's, Fu et al. 2020), as in the offline and imitation tests."""
    return float(datasets.read_info(data_dir(env, "expert x20", cache)).mean_return)


def with_data(config: Any, row: Row, cache: str | None = None) -> Any:
    """`config` learning from `row.data`: its `dataset` (an offline agent) or `demonstrations`."""
    if row.data is None:
        return config
    field = "dataset" if isinstance(config, config_lib.OfflineConfig) else "demonstrations"
    return dataclasses.replace(config, **{field: data_dir(row.env, row.data, cache)})


# ---- running a row -------------------------------------------------------------------------------


def training_returns(row: Row, out: Any) -> np.ndarray:
    """A vmapped run's episode returns [seeds, iterations] as float64; FloatingPointError naming
    `row` if any is NaN or inf (the table and the check slice both read them so)."""
    returns = np.asarray(out.metrics["episode_return"], np.float64)
    if not np.all(np.isfinite(returns)):
        raise FloatingPointError(f"{row.key}: non-finite episode returns")
    return returns


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


def timed(run: Callable[[], Any], min_seconds: float, max_runs: int) -> tuple[Any, float, float]:
    """Calls `run()` once, then again while all calls so far took under `min_seconds`, at most
    `max_runs` times in all; returns (its last result, the first call's seconds, the fastest's)."""
    times = []
    while not times or (sum(times) < min_seconds and len(times) < max_runs):
        start = time.perf_counter()
        out = jax.block_until_ready(run())
        times.append(time.perf_counter() - start)
    return out, times[0], min(times)


def run_row(row: Row, seeds: int, seed: int = 0, min_timed_s: float = 0.0) -> dict[str, Any]:
    """Trains `seeds` seeds of `row` as one vmapped program and measures it; returns the result
    (the table's fields) and `curve` (env steps [iterations], returns [seeds, iterations]).
    The program reruns (bit for bit) while its runs took under `min_timed_s` in all (`timed`)."""
    config = with_data(row.make_config(), row)
    train = agents.get(row.agent).make_train(config)
    keys = driver.population_keys(seed, seeds)
    start = time.perf_counter()
    program = jax.jit(jax.vmap(train)).lower(keys).compile()
    compiled = time.perf_counter()
    out, first, fastest = timed(lambda: program(keys), min_timed_s, TIMED_RUNS)
    eval_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, train.num_iterations)
    evals = np.asarray(jax.jit(jax.vmap(train.evaluate))(out.state, eval_keys), np.float64)
    returns = training_returns(row, out)
    finals = final_returns(returns)
    point, low, high = iqm_interval(finals)
    # Offline rows count gradient updates where the others count env steps.
    env_steps = int(train.num_iterations * train.steps_per_iteration)
    steps = out.metrics["env_steps" if "env_steps" in out.metrics else "learner_steps"][0]
    return dict(
        library="jaxrl", agent=row.agent, env=row.env, env_steps=env_steps, seeds=seeds, iqm=point, ci_low=low,
        ci_high=high,
        mean=float(finals.mean()), min=float(finals.min()), eval_mean=float(evals.mean()),
        random=round(random_return(config), 2), bar="" if row.bar is None else row.bar,
        wall_s=round(compiled - start + first, 2), compile_s=round(compiled - start, 2),
        env_steps_per_s=int(env_steps * seeds / fastest), version=jaxrl.__version__, commit=_commit(),
        date=datetime.date.today().isoformat(), machine=_machine(),
        config=" ".join(f"{k}={v}" for k, v in sorted(row.config.items())),
        finals=" ".join(f"{x:.6g}" for x in finals), evals=" ".join(f"{x:.6g}" for x in evals),
        curve=(np.asarray(steps, np.int64), returns), data=row.data or "",
        expert=round(expert_return(row.env), 2) if row.data else "",
    )


# ---- the peer on the same row --------------------------------------------------------------------


def rejax_settings(config: Any) -> tuple[str | None, dict[str, Any] | str]:
    """`rejax.<ALGO>.create` arguments doing a jaxrl row's work: ("ppo", {...}), or (None, why not).

    Same env, budget, env batch, network widths and activation, batch sizes, learning rates,
    discount, target updates and updates per env step. What Rejax 0.1.3 has no setting for is left
    as each library does it, and named in docs/baselines.md: PPO's learning-rate annealing (Rejax
    keeps it constant) and gradient clipping (Rejax clips each element, jaxrl the global norm);
    time limits (Rejax treats them as terminations). A row whose work Rejax cannot do is refused.
    """
    agent = config.agent
    if agent not in REJAX_AGENTS:
        return None, f"Rejax has no {agent.upper()}"
    if config.env.startswith("brax/"):
        return None, "Rejax's brax wrapper is not installable beside the gymnax 0.0.9 it pins"
    if config.env in jaxrl.envs.registry.VARIANTS:
        return None, f"Rejax has no {config.env} (a jaxrl variant of a gymnax env)"
    if config.episode_length is not None:
        return None, "Rejax runs gymnax's own time limits"
    if getattr(config, "n_step", 1) != 1:
        return None, "Rejax has no n-step returns"
    if getattr(config, "torso", "mlp") != "mlp":
        return None, "Rejax's agents take no conv torso setting (its MinAtar networks are MLPs)"
    settings: dict[str, Any] = dict(env=config.env, total_timesteps=config.total_timesteps, num_envs=config.num_envs,
                                    gamma=config.gamma, normalize_observations=config.normalize_observations)
    activation = dict(activation=config.activation)
    if agent == "ppo":
        if config.continuous_policy == "tanh_gaussian":
            return None, "Rejax PPO's Gaussian policy is clipped, not tanh-squashed"
        settings.update(num_steps=config.rollout_length, num_epochs=config.num_epochs,
                        num_minibatches=config.num_minibatches, learning_rate=config.learning_rate,
                        max_grad_norm=config.max_grad_norm, gae_lambda=config.gae_lambda, clip_eps=config.clip_eps,
                        ent_coef=config.ent_coef, vf_coef=config.vf_coef,
                        agent_kwargs=dict(activation, hidden_layer_sizes=list(config.hidden_sizes)))
        return agent, settings
    # Off-policy: Rejax steps the env batch once, then makes `num_epochs` updates.
    updates = config.updates_per_step * config.num_envs / config.train_every
    if updates < 1 or updates != int(updates):
        return None, f"Rejax updates a whole number of times per step of the env batch, not {updates:g}"
    settings.update(buffer_size=config.buffer_size, batch_size=config.batch_size, fill_buffer=config.learning_starts,
                    num_epochs=int(updates))
    fixed_64 = tuple(config.hidden_sizes) != (64, 64)
    if agent == "dqn":
        for field, plain in (("prioritized", False), ("num_atoms", None), ("loss", "mse")):
            if getattr(config, field) != plain:
                return None, f"Rejax DQN has no {field}={getattr(config, field)!r}"
        if fixed_64:
            return None, "Rejax DQN's network is fixed at (64, 64)"
        settings.update(learning_rate=config.learning_rate, max_grad_norm=config.max_grad_norm,
                        target_update_freq=config.target_update_every, polyak=1.0 - config.tau,
                        eps_start=config.epsilon_start, eps_end=config.epsilon_end,
                        exploration_fraction=config.exploration_fraction, ddqn=config.double,
                        agent="DuelingQNetwork" if config.dueling else "QNetwork", agent_kwargs=activation)
        return agent, settings
    learning_rates = {config.actor_learning_rate, config.critic_learning_rate}
    if agent == "sac":
        learning_rates.add(config.temperature_learning_rate)
        if config.init_temperature != 1.0 or config.target_entropy_per_dim != -1.0:
            return None, "Rejax SAC starts at temperature 1 with target entropy -|A|"
    if len(learning_rates) != 1:
        return None, f"Rejax {agent.upper()} has one learning rate for all its optimizers"
    settings.update(learning_rate=learning_rates.pop(), polyak=1.0 - config.tau, target_update_freq=1)
    if agent == "sac":
        settings.update(hidden_layer_sizes=list(config.hidden_sizes), agent_kwargs=activation)
        return agent, settings
    if fixed_64:
        return None, "Rejax TD3's networks are fixed at (64, 64)"
    if config.exploration != "gaussian":
        return None, f"Rejax TD3 explores with Gaussian noise only, not {config.exploration!r}"
    settings.update(exploration_noise=config.exploration_noise, target_noise=config.target_noise,
                    target_noise_clip=config.target_noise_clip, policy_delay=config.policy_delay,
                    actor_kwargs=activation, critic_kwargs=dict(activation))
    return agent, settings


PEER_SCRIPT = os.path.join(ROOT, "experiments", "baselines_rejax.py")


def default_peer_python() -> str:
    """Where `../shared/peers/setup.sh` puts the peer's Python (or $JAXRL_PEER_PYTHON)."""
    return os.environ.get("JAXRL_PEER_PYTHON",
                          os.path.join(os.environ.get("TMPDIR", "/tmp"), "jaxrl-peers", "bin", "python"))


def run_peer_row(row: Row, seeds: int, peer_python: str, jaxrl_steps_per_s: float) -> dict[str, Any]:
    """Runs Rejax on `row`'s work in the peer's Python; returns its stored fields (library "rejax")
    with `speed_ratio`, jaxrl's env steps/s (measured just before, in the same invocation) over Rejax's."""
    import json

    algo, settings = rejax_settings(row.make_config())
    if algo is None:
        raise ValueError(f"{row.key}: no Rejax row ({settings})")
    spec = json.dumps(dict(algo=algo, seeds=seeds, settings=settings, min_timed_s=TIMED_SECONDS,
                           max_timed_runs=TIMED_RUNS))
    done = subprocess.run([peer_python, PEER_SCRIPT, spec], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{row.key}: Rejax run failed ({peer_python}):\n{done.stderr[-3000:]}")
    peer = json.loads(done.stdout.strip().splitlines()[-1])
    finals = np.asarray(peer["finals"], np.float64)
    point, low, high = iqm_interval(finals)
    return dict(
        library="rejax", agent=row.agent, env=row.env, env_steps=peer["env_steps"], seeds=seeds, iqm=point,
        ci_low=low, ci_high=high, mean=float(finals.mean()), min=float(finals.min()), eval_mean=float(finals.mean()),
        bar="" if row.bar is None else row.bar, wall_s=peer["wall_s"], compile_s=peer["compile_s"],
        env_steps_per_s=peer["env_steps_per_s"], speed_ratio=round(jaxrl_steps_per_s / peer["env_steps_per_s"], 3),
        version=f"rejax {peer['rejax']}", commit="", date=datetime.date.today().isoformat(), machine=_machine(),
        config=" ".join(f"{k}={v}" for k, v in sorted(row.config.items())),
        finals=" ".join(f"{x:.6g}" for x in finals), evals=" ".join(f"{x:.6g}" for x in finals),
    )


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        # "+" marks code that differs from the commit; the files this command writes (docs/, README.md)
        # do not count, or every row after a sitting's first would carry it.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)docs", ":(exclude)README.md"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        return out + ("+" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> str:
    devices = jax.devices()
    return (f"{devices[0].platform}:{len(devices)}x{devices[0].device_kind} {os.cpu_count()} cores {platform.machine()}"
            f"{_cpu_model()}")


def _cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The suffix `, <model name> (<widest x86 vector ISA>)` from Linux's cpuinfo, or "" without one:
    2-core hosts of one cloud have run the same PPO program 3-4x apart, so a row names its CPU (and
    its ISA, since a host's model name can be as bare as "AMD EPYC")."""
    try:
        with open(cpuinfo) as f:
            text = f.read()
    except OSError:
        return ""
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
    if model is None:
        return ""
    names = set(flags.group(1).split()) if flags else set()
    isa = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX")) if flag in names),
               None)
    return f", {model.group(1).strip()}" + (f" ({isa})" if isa else "")


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


def library(result: dict[str, str]) -> str:
    """Which library a stored row is from (rows written before peers were stored are jaxrl's)."""
    return result.get("library") or "jaxrl"


def library_rows(results: list[dict[str, str]], profile: str, lib: str = "jaxrl") -> list[dict[str, str]]:
    """The stored rows of one library in `profile`, in stored order."""
    return [r for r in results if r["profile"] == profile and library(r) == lib]


def under_bar(r: dict[str, str]) -> bool:
    """Whether a stored row's IQM is under its environment's usual bar (False where it has none)."""
    return r["bar"] not in ("", None) and float(r["iqm"]) < float(r["bar"])


def markdown_table(results: list[dict[str, str]], profile: str, agents_: Sequence[str] | None = None) -> str:
    """The jaxrl rows of `profile` (only `agents_`' if given) as a markdown table."""
    lines = ["| agent | env | env steps | seeds | IQM [95% CI] | mean | min | greedy eval | bar | wall s | "
             "env steps/s |", "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |"]
    for r in library_rows(results, profile):
        if agents_ and r["agent"] not in agents_:
            continue
        bar = "-" if r["bar"] in ("", None) else f"{_fmt(r['bar'], 0)} " + ("**below**" if under_bar(r) else "yes")
        lines.append(f"| {r['agent']} | {_env_cell(r)} | {_steps_cell(r)} | {r['seeds']} | "
                     f"{_fmt(r['iqm'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] | {_fmt(r['mean'])} | "
                     f"{_fmt(r['min'])} | {_fmt(r['eval_mean'])} | {bar} | {_fmt(r['wall_s'], 0)} | "
                     f"{int(float(r['env_steps_per_s'])):,} |")
    return "\n".join(lines)


def is_offline(agent: str) -> bool:
    """Whether `agent` learns from a dataset alone (its rows count gradient updates, not env steps)."""
    return issubclass(agents.get(agent).Config, config_lib.OfflineConfig)


def _env_cell(r: dict[str, str]) -> str:
    """The env, with the dataset a data row learns from and the base agent of a family's variant."""
    notes = [n for n in (r.get("data"), _direct_rl(r)) if n]
    return r["env"] + (f" ({', '.join(notes)})" if notes else "")


def _direct_rl(r: dict[str, str]) -> str:
    match = re.search(r"(?:^| )direct_rl=(\w+)", r.get("config") or "")
    return f"on {match.group(1)}" if match else ""


def _steps_cell(r: dict[str, str]) -> str:
    steps = f"{int(float(r['env_steps'])):,}"
    return steps + " updates" if r.get("data") and is_offline(r["agent"]) else steps


def data_table(results: list[dict[str, str]], profile: str) -> str:
    """The data rows of `profile` in normalised scores, (return - random) / (expert - random), the
    expert's return being that of 20 episodes of the committed expert policy (`expert_return`)."""
    lines = ["| agent | env (data) | steps | seeds | normalised IQM [95% CI] | min | greedy eval |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for r in library_rows(results, profile):
        if not r.get("data"):
            continue
        random, expert = float(r["random"]), float(r["expert"])

        def score(x: str) -> str:
            return _fmt((float(x) - random) / (expert - random), 2)

        lines.append(f"| {r['agent']} | {_env_cell(r)} | {_steps_cell(r)} | {r['seeds']} | {score(r['iqm'])} "
                     f"[{score(r['ci_low'])}, {score(r['ci_high'])}] | {score(r['min'])} | {score(r['eval_mean'])} |")
    return "\n".join(lines)


def peer_comparison(results: list[dict[str, str]], profile: str) -> list[dict[str, Any]]:
    """jaxrl beside Rejax on every row both have: each side's after-training IQM and interval
    (jaxrl's greedy evaluation, Rejax's own evaluation), whether jaxrl's IQM is inside or above
    Rejax's interval, and the env steps/s of each with their same-invocation ratio."""
    mine = {(r["agent"], r["env"]): r for r in library_rows(results, profile)}
    pairs = []
    for peer in library_rows(results, profile, "rejax"):
        if (peer["agent"], peer["env"]) not in mine:
            continue
        r = mine[(peer["agent"], peer["env"])]
        point, low, high = iqm_interval(np.array(r["evals"].split(), np.float64))
        pairs.append(dict(agent=r["agent"], env=r["env"], env_steps=int(float(r["env_steps"])), seeds=r["seeds"],
                          iqm=point, ci_low=low, ci_high=high, peer_iqm=float(peer["iqm"]),
                          peer_low=float(peer["ci_low"]), peer_high=float(peer["ci_high"]),
                          holds=point >= float(peer["ci_low"]), steps_per_s=int(float(r["env_steps_per_s"])),
                          peer_steps_per_s=int(float(peer["env_steps_per_s"])), ratio=float(peer["speed_ratio"])))
    return pairs


# The speed floor per agent against Rejax on the same row (issue 15): 1.5x for PPO and DQN, at
# least equal for SAC and TD3 (compute-bound at equal network sizes). A ratio below it is marked.
SPEED_FLOORS = {"ppo": 1.5, "dqn": 1.5, "sac": 1.0, "td3": 1.0}


def _ratio_cell(agent: str, ratio: float) -> str:
    floor = SPEED_FLOORS.get(agent)
    return f"{ratio:.2f}x" + (f" (**below {floor:g}x**)" if floor is not None and ratio < floor else "")


def peer_table(pairs: list[dict[str, Any]]) -> str:
    lines = ["| agent | env | env steps | seeds | jaxrl greedy IQM [95% CI] | Rejax IQM [95% CI] | jaxrl inside or "
             "above | jaxrl env steps/s | Rejax env steps/s | ratio |",
             "| --- | --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |"]
    for p in pairs:
        lines.append(f"| {p['agent']} | {p['env']} | {p['env_steps']:,} | {p['seeds']} | {_fmt(p['iqm'])} "
                     f"[{_fmt(p['ci_low'])}, {_fmt(p['ci_high'])}] | {_fmt(p['peer_iqm'])} [{_fmt(p['peer_low'])}, "
                     f"{_fmt(p['peer_high'])}] | {'yes' if p['holds'] else '**no**'} | {p['steps_per_s']:,} | "
                     f"{p['peer_steps_per_s']:,} | {_ratio_cell(p['agent'], p['ratio'])} |")
    return "\n".join(lines)


# Figures the peers publish for rows of this table: (agent, env, source, reported return, budget, where).
_CLEANRL = "https://docs.cleanrl.dev/rl-algorithms/{}/"
PUBLISHED = [
    ("ppo", "CartPole-v1", "CleanRL ppo.py", "488.75 ± 18.40", "500k steps", _CLEANRL.format("ppo")),
    ("ppo", "CartPole-v1", "openai/baselines PPO2 (as CleanRL ran it)", "497.54 ± 4.02", "500k steps",
     _CLEANRL.format("ppo")),
    ("ppo", "Acrobot-v1", "CleanRL ppo.py", "-82.48 ± 5.93", "500k steps", _CLEANRL.format("ppo")),
    ("ppo", "MountainCar-v0", "CleanRL ppo.py", "-200.00 ± 0.00", "500k steps", _CLEANRL.format("ppo")),
    ("dqn", "CartPole-v1", "CleanRL dqn_jax.py (3 seeds)", "498.38 ± 2.29", "500k steps", _CLEANRL.format("dqn")),
    ("dqn", "Acrobot-v1", "CleanRL dqn_jax.py (3 seeds)", "-88.89 ± 1.56", "500k steps", _CLEANRL.format("dqn")),
    ("dqn", "MountainCar-v0", "CleanRL dqn_jax.py (3 seeds)", "-188.90 ± 11.78", "500k steps",
     _CLEANRL.format("dqn")),
]
PUBLISHED_NOTE = """As each source reports them (mean ± standard deviation over its seeds of the average episodic
return of training), on gymnasium's versions of the environments at the budgets shown: a
different statistic from this table's IQM, and not rerun here. CleanRL's DQN runs use a
120-84 network, 500k steps, 10k warm-up and an update every 10 steps."""


# Why each row under its environment's usual bar stands where it does (issue 15: a defect to fix;
# while it stands, the table marks it and the page says why). The bar is read against the IQM of
# training returns, which exploring agents earn with their exploration on; the greedy column is
# the policy a user takes away. tests/test_baselines.py keeps this in step with the stored rows.
BELOW_BAR = {
    "bc/Pendulum-v1": "by design: medium-replay is mostly the warm-up's random actions, and behaviour "
                      "cloning copies them. The row is the reference the offline agents must pass "
                      "(TD3+BC, IQL, CRR and CQL do, all above the bar).",
}


def below_bar(results: list[dict[str, str]], profile: str) -> list[dict[str, str]]:
    """The jaxrl rows of `profile` whose IQM is under their environment's usual bar."""
    return [r for r in library_rows(results, profile) if under_bar(r)]


def below_bar_notes(rows: list[dict[str, str]]) -> str:
    """One line per row of `below_bar`: the row, its IQM against the bar, its greedy evaluation, and
    why (`BELOW_BAR`)."""
    return "\n".join(f"- {r['agent']} on {_env_cell(r)}: {_fmt(r['iqm'])} against {_fmt(r['bar'], 0)} (greedy "
                     f"{_fmt(r['eval_mean'])}): " + BELOW_BAR.get(f"{r['agent']}/{r['env']}", "not yet explained.")
                     for r in rows)


PEER_NOTES = """Rejax 0.1.3 (Liesen et al. 2024, `rejax` on PyPI) runs each shared row with the same environment,
budget, seeds (one `jax.jit(jax.vmap(train))` program), env batch, network widths and activation,
batch sizes, learning rates and updates per env step (`experiments.baselines.rejax_settings`), in
the same invocation, right after jaxrl's row. Scores compare the policy a user gets after
training: jaxrl's greedy evaluation (10 episodes per seed) and Rejax's own evaluation (128
episodes per seed; it samples from PPO's and SAC's policies and uses epsilon 0.005 for DQN). Env
steps/s count training only, compilation and evaluation excluded, and both libraries' programs
rerun the same way (`experiments.baselines.timed`). What Rejax
has no setting for is left as each library does it: PPO's learning rate is annealed in jaxrl and
constant in Rejax, and Rejax clips each gradient element where jaxrl clips the global norm; Rejax
bootstraps no time limits (a truncated CartPole episode counts as a termination). A ratio below
jaxrl's speed floor ({floors}) is marked: a defect to fix.""".format(
    floors=", ".join(f"{floor:g}x Rejax for {agent.upper()}" for agent, floor in SPEED_FLOORS.items()))


def write_markdown(out: str, results: list[dict[str, str]], profile: str) -> str:
    rows = library_rows(results, profile)
    provenance = sorted({(r["version"], r["commit"], r["date"], r["machine"]) for r in rows})
    text = [
        "# Baselines",
        "",
        f"Generated by `python -m experiments.baselines --profile {profile}` (rows stored in "
        "`docs/baselines/results.csv`; curves in `docs/baselines/curves/`). Each row trains all seeds as one "
        "`jax.jit(jax.vmap(train))` program. A seed's final return is the mean of its episode returns over the "
        "last tenth of training; IQM is their interquartile mean with a 95% stratified-bootstrap interval "
        "(rliable); greedy eval is the mean over seeds of 10 greedy episodes after training. Wall time is "
        "compilation and one training run; env steps/s (all seeds together) is training only, the fastest of up to "
        f"{TIMED_RUNS} runs of the compiled program (rerun while its runs took under {TIMED_SECONDS:.0f} s in all).",
        "",
        markdown_table(results, profile),
        "",
        "Runs: " + "; ".join(f"jaxrl {v} at {c}, {d}, {m}" for v, c, d, m in provenance),
        "",
    ]
    below = below_bar(results, profile)
    if below:
        text += ["Rows under their environment's usual bar (the IQM of training returns against it), and why:", "",
                 below_bar_notes(below), ""]
    if any(r.get("data") for r in rows):
        text += ["## Offline, imitation and demonstrations, normalised", "", DATA_NOTE, "",
                 data_table(results, profile), ""]
    pairs = peer_comparison(results, profile)
    if pairs:
        unpaired = []
        for row in PROFILES[profile]():
            algo, why = rejax_settings(row.make_config())
            if algo is None and row.agent in REJAX_AGENTS:
                unpaired.append(f"{row.key} ({why})")
        text += ["## Beside Rejax", "", PEER_NOTES, "", peer_table(pairs), ""]
        if unpaired:
            text += ["Rows without a Rejax run: " + "; ".join(unpaired) + ".", ""]
    published = [p for p in PUBLISHED if any((r["agent"], r["env"]) == p[:2] for r in rows)]
    if published:
        text += ["## Published figures", "", PUBLISHED_NOTE, "",
                 "| agent | env | source | reported return | budget | where |", "| --- | --- | --- | --- | --- | --- |"]
        text += [f"| {a} | {e} | {who} | {value} | {budget} | {url} |" for a, e, who, value, budget, url in published]
        text.append("")
    path = os.path.join(out, "baselines.md")
    write_text(path, "\n".join(text))
    return path


DATA_NOTE = (
    "The rows that learn from a dataset (`data`), in D4RL's normalised score (Fu et al. 2020): "
    "(return - random) / (expert - random), random being uniformly random actions' mean return and "
    "expert that of 20 episodes of the committed expert policy (tests/data/policies). The datasets are the "
    "project's own: Pendulum-v1's medium-replay set as committed (tests/data/datasets), the others episodes "
    "of the committed policies' sampled actions, seed 0 (`experiments.collect --policy`). Offline rows count "
    "gradient updates (their returns are greedy evaluations between chunks); imitation rows never see a "
    "reward; SACfD, TD3fD and DQfD learn from the env's rewards with the demonstrations in replay.")


def write_text(path: str, text: str) -> None:
    """Writes `text` to `path` atomically (a temporary file renamed over it)."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def rewrite_marked_tables(path: str, marker: re.Pattern, table: Any) -> bool:
    """Replaces the markdown table after each match of `marker` (group 1: the marker line's
    argument, if any; the last group: the table) in the file at `path` with `table(match)`;
    whether the file changed."""
    text = open(path).read()
    new = marker.sub(lambda m: m.group(0)[:m.start(m.lastindex) - m.start()] + table(m) + "\n", text)
    if new != text:
        write_text(path, new)
    return new != text


# An agent page's results: the table after `<!-- baselines: ppo -->` (or `ddpg,td3,d4pg`).
PAGE_MARKER = re.compile(r"^<!-- baselines: ([\w,]+) -->\n((?:\|.*\n)*)", flags=re.M)


def update_agent_pages(out: str, results: list[dict[str, str]], profile: str) -> list[str]:
    """Rewrites the table after each `<!-- baselines: NAMES -->` marker in `<out>/agents/*.md` with
    those agents' rows of `profile`; returns the pages it changed."""
    folder = os.path.join(out, "agents")
    pages = [os.path.join(folder, name) for name in sorted(os.listdir(folder))] if os.path.isdir(folder) else []
    return [path for path in pages if rewrite_marked_tables(
        path, PAGE_MARKER, lambda m: markdown_table(results, profile, m.group(1).split(",")))]


# The rows README.md shows, after `<!-- baselines: headline -->`.
HEADLINE = [("ppo", "CartPole-v1"), ("dqn", "CartPole-v1"), ("ppo", "Acrobot-v1"), ("dqn", "Acrobot-v1"),
            ("sac", "Pendulum-v1"), ("td3", "Pendulum-v1")]
HEADLINE_MARKER = re.compile(r"^<!-- baselines: headline -->\n((?:\|.*\n)*)", flags=re.M)


def headline_table(results: list[dict[str, str]], profile: str = "cpu") -> str:
    """The front page's rows: IQM with its interval, greedy return, and env steps/s beside Rejax's."""
    mine = {(r["agent"], r["env"]): r for r in library_rows(results, profile)}
    theirs = {(r["agent"], r["env"]): r for r in library_rows(results, profile, "rejax")}
    lines = ["| agent | env | env steps x seeds | final return, IQM [95% CI] | greedy | env steps/s | vs Rejax |",
             "| --- | --- | --- | --- | ---: | ---: | ---: |"]
    for key in HEADLINE:
        if key not in mine:
            continue
        r = mine[key]
        ratio = _ratio_cell(key[0], float(theirs[key]["speed_ratio"])) if key in theirs else "-"
        lines.append(f"| {r['agent']} | {r['env']} | {int(float(r['env_steps'])):,} x {r['seeds']} | {_fmt(r['iqm'])} "
                     f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] | {_fmt(r['eval_mean'])} | "
                     f"{int(float(r['env_steps_per_s'])):,} | {ratio} |")
    return "\n".join(lines)


def update_readme(path: str, results: list[dict[str, str]]) -> bool:
    """Rewrites the table after README's `<!-- baselines: headline -->`; whether it changed."""
    return os.path.isfile(path) and rewrite_marked_tables(path, HEADLINE_MARKER, lambda m: headline_table(results))


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
    # One figure per env and dataset; offline rows (against updates) apart from online ones.
    def figure_of(r: dict[str, str]) -> tuple[str, str, bool]:
        return r["env"], r.get("data") or "", bool(r.get("data")) and is_offline(r["agent"])

    for env, data, offline in sorted({figure_of(r) for r in library_rows(results, profile)}):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
        for r in library_rows(results, profile):
            if figure_of(r) != (env, data, offline):
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
        name = env.replace("/", "_") + (f"-{'offline-' if offline else ''}{re.sub(r'[^a-z0-9]+', '', data)}"
                                        if data else "")
        title = f"{env}{f', {data}' if data else ''} ({profile} profile)"
        paths.append(_save(fig, ax, title, "gradient updates" if offline else "environment steps", "episode return",
                            "lower right", os.path.join(out, "baselines", f"{profile}-{name}.png")))
    return paths


FAMILIES = {"discrete actions": ("CartPole-v1", "Acrobot-v1", "MountainCar-v0"),
            "continuous actions": ("Pendulum-v1", "MountainCarContinuous-v0", "brax/inverted_pendulum",
                                   "brax/halfcheetah", "brax/hopper", "brax/ant")}


def normalized_scores(results: list[dict[str, str]], profile: str, envs: Sequence[str]) -> dict[str, np.ndarray]:
    """{agent: [seeds, envs] normalised final returns} for the agents with a row on every env in
    `envs` that has a reference (others are left out of the profile, as rliable needs a full matrix)."""
    rows = [r for r in library_rows(results, profile) if r["env"] in envs and r["env"] in REFERENCES]
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
    chosen = [r for r in rows if (not agents_ or r.agent in agents_) and (not envs or r.env in envs)]
    if not chosen:  # each name has rows, but none together: a check of nothing must not pass
        raise SystemExit(f"error: no row has both --agents {sorted(agents_)} and --envs {sorted(envs)}; "
                         f"the rows are {sorted(r.key for r in rows)}")
    return chosen


def stored_rows(results: list[dict[str, str]], profile: str, lib: str, row: Row) -> list[dict[str, str]]:
    wanted = (profile, lib, row.agent, row.env)
    return [r for r in results if (r["profile"], library(r), r["agent"], r["env"]) == wanted]


def build(args: argparse.Namespace) -> int:
    rows = select(PROFILES[args.profile](), args.agents, args.envs)
    peers = {row.key: rejax_settings(row.make_config()) for row in rows}  # every config is checked first
    if args.peers:
        if not os.path.isfile(args.peer_python):
            raise SystemExit(f"error: --peers rejax needs Rejax's Python at {args.peer_python}; make it with "
                             "../shared/peers/setup.sh .venv/bin/python or pass --peer-python")
        for key, (algo, why) in peers.items():
            if algo is None:
                print(f"{key}: no Rejax row ({why})", flush=True)
    results_path = os.path.join(args.out, "baselines", "results.csv")
    results = read_results(results_path)

    def store(result: dict[str, Any], replaces: list[dict[str, str]]) -> list[dict[str, str]]:
        result["profile"] = args.profile
        kept = [r for r in results if r not in replaces] + [{k: str(v) for k, v in result.items()}]
        write_results(results_path, kept)
        write_markdown(args.out, kept, args.profile)
        return kept

    for row in rows:
        mine = stored_rows(results, args.profile, "jaxrl", row)
        with_peer = bool(args.peers) and peers[row.key][0] is not None
        theirs = stored_rows(results, args.profile, "rejax", row) if with_peer else []
        current = [r for r in mine + theirs if int(r["seeds"]) == args.seeds]
        if not args.force and len(current) == 1 + with_peer:
            print(f"{row.key}: stored ({mine[0]['date']}), skipped; --force reruns it", flush=True)
            continue
        # A missing peer row reruns jaxrl's too: their speed ratio is only taken within one invocation.
        print(f"{row.key}: training {args.seeds} seeds ...", flush=True)
        result = run_row(row, args.seeds, min_timed_s=TIMED_SECONDS)
        steps, returns = result.pop("curve")
        write_curve(curve_path(args.out, args.profile, row.agent, row.env), steps, returns)
        results = store(result, mine)
        print(f"{row.key}: IQM {result['iqm']:.1f} [{result['ci_low']:.1f}, {result['ci_high']:.1f}], "
              f"greedy {result['eval_mean']:.1f}, {result['wall_s']:.0f} s, {result['env_steps_per_s']:,} steps/s",
              flush=True)
        if with_peer:
            print(f"{row.key}: Rejax, {args.seeds} seeds ...", flush=True)
            peer = run_peer_row(row, args.seeds, args.peer_python, result["env_steps_per_s"])
            results = store(peer, theirs)
            print(f"{row.key}: Rejax IQM {peer['iqm']:.1f} [{peer['ci_low']:.1f}, {peer['ci_high']:.1f}], "
                  f"{peer['wall_s']:.0f} s, {peer['env_steps_per_s']:,} steps/s; jaxrl {peer['speed_ratio']:.2f}x",
                  flush=True)
    write_markdown(args.out, results, args.profile)
    if args.profile == "cpu":  # the agent pages and the front page show the cpu profile's rows
        update_agent_pages(args.out, results, args.profile)
        if os.path.abspath(args.out) == os.path.abspath(os.path.join(ROOT, "docs")):
            update_readme(os.path.join(ROOT, "README.md"), results)
    plot_curves(args.out, results, args.profile)
    plot_profiles(args.out, results, args.profile)
    return 0


def check(args: argparse.Namespace) -> int:
    """Reruns the check slice; returns 1 (and names them) if any result left its stored interval.
    With `--force`, records the intervals instead (`CHECK_RECORD_SEEDS` seeds per row)."""
    path = os.path.join(args.out, "baselines", "check.csv")
    rows = select(CHECK, args.agents, args.envs)
    if args.force:
        # Rows not re-recorded keep their stored intervals; each new one is written as it finishes.
        stored = {(r["agent"], r["env"]): r for r in (read_results(path) if os.path.exists(path) else [])}
        order = [(r.agent, r.env) for r in CHECK]
        for row in rows:
            result = run_row(row, CHECK_RECORD_SEEDS)
            result.pop("curve")
            finals = np.array(result["finals"].split(), np.float64)
            result["ci_low"], result["ci_high"] = prediction_interval(finals, CHECK_SEEDS)
            result["profile"] = "check"
            stored[(row.agent, row.env)] = {k: str(v) for k, v in result.items()}
            write_results(path, sorted(stored.values(), key=lambda r: order.index((r["agent"], r["env"]))
                                       if (r["agent"], r["env"]) in order else len(order)))
            print(f"{row.key}: 4-seed IQM interval [{result['ci_low']:.2f}, {result['ci_high']:.2f}]", flush=True)
        print(f"recorded {len(rows)} check rows in {path}")
        return 0
    stored = {(r["agent"], r["env"]): r for r in read_results(path)}
    missing = [row.key for row in rows if (row.agent, row.env) not in stored]
    if missing:
        print(f"FAIL {missing}: no stored interval in {path} (record them with --check --force)", file=sys.stderr)
        return 1
    results = {}
    for row, iqm_ in zip(rows, check_iqms(rows, CHECK_SEEDS, args.seed)):
        results[(row.agent, row.env)] = iqm_
        print(f"{row.key}: IQM {iqm_:.2f}", flush=True)
    failures = compare(results, stored)
    for failure in failures:
        print("FAIL " + failure, file=sys.stderr)
    return 1 if failures else 0


def check_iqms(rows: Sequence[Row], seeds: int, seed: int = 0, optimization_level: int | None = 2):
    """Yields each row's IQM of final training returns over `seeds` seeds, as `run_row` computes
    it (the same program and keys), without what only the table needs (greedy evaluation, random
    play's return, timed reruns). On a CPU the programs compile at LLVM's -O2, not XLA's default
    -O3 (`optimization_level`; None keeps the default): compiling is most of a short row's time,
    and -O2 took the slice's compiles from 122 s to 79 s here. It rounds some agents' arithmetic
    differently (8 of the 23 here, SAC and MPO among them), so their rerun is another draw of the
    same 4 seeds' IQM, as on another CPU, which the stored intervals are made for.

    The next row's program is built (its dataset made, traced, compiled) in a worker thread while
    the current one runs: a 4-seed run leaves a core to the compiler, and the slice took 144 s
    that way against 176 s one row after the other, with the same IQMs."""
    options = None
    if optimization_level is not None and jax.default_backend() == "cpu":
        options = {"xla_backend_optimization_level": optimization_level}
    keys = driver.population_keys(seed, seeds)

    def build(row: Row):
        train = agents.get(row.agent).make_train(with_data(row.make_config(), row))
        return jax.jit(jax.vmap(train)).lower(keys).compile(options)

    rows = list(rows)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        upcoming = pool.submit(build, rows[0]) if rows else None
        for i, row in enumerate(rows):
            program = upcoming.result()
            if i + 1 < len(rows):
                upcoming = pool.submit(build, rows[i + 1])
            yield float(iqm(final_returns(training_returns(row, program(keys)))))


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
    parser.add_argument("--seed", type=int, default=0,
                        help="with --check: the first of the 4 seeds (another draw tells a regression from chance)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="where baselines.md and baselines/ go")
    parser.add_argument("--peers", nargs="+", choices=["rejax"], default=[],
                        help="also run these libraries on the same rows (installed as in ../shared/peers/setup.sh)")
    parser.add_argument("--peer-python", default=default_peer_python(),
                        help="the Python with the peers installed (default $JAXRL_PEER_PYTHON or "
                             "$TMPDIR/jaxrl-peers/bin/python)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.seed and not (args.check and not args.force):
        parser.error("--seed draws other seeds for --check; the table and the recorded intervals use seeds 0..N-1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    return check(args) if args.check else build(args)


if __name__ == "__main__":
    sys.exit(main())
