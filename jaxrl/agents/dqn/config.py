"""DQN's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.struct

from jaxrl.agents.config import (BOOL, FINITE, NON_NEGATIVE, POSITIVE, STEP, UNIT, OffPolicyConfig, OneOf,
                                 OptimizerConfig, TorsoConfig, at_least)
from jaxrl.types import Array


@flax.struct.dataclass
class HParams:
    """DQN's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    learning_rate: Array
    gamma: Array
    epsilon_start: Array
    epsilon_end: Array
    exploration_fraction: Array
    tau: Array
    max_grad_norm: Array
    huber_delta: Array


@dataclasses.dataclass(frozen=True)
class Config(OffPolicyConfig, OptimizerConfig, TorsoConfig):
    """Deep Q-Networks (Mnih et al. 2015) with the Rainbow-era options (Hessel et al. 2018).

    Double Q-learning (van Hasselt et al. 2016) by default; dueling heads (Wang et al. 2016),
    n-step returns, prioritized replay (Schaul et al. 2016), the categorical C51 head
    (`num_atoms`, Bellemare et al. 2017) and Huber or squared TD loss are options. Step counts
    (`learning_starts`, `train_every`, `target_update_every`, `steps_per_iteration`) are env
    steps summed over the env batch, as in PureJaxRL. Defaults are PureJaxRL's CartPole-v1 DQN
    (10 envs, buffer 10k, batch 128, an update every 10 env steps, target copy every 500).
    """

    agent = "dqn"
    HParams = HParams
    actions = "discrete"
    defaults = dict(num_envs=10, buffer_size=10_000, batch_size=128, learning_starts=10_000, train_every=10,
                    activation="relu", max_grad_norm=10.0)

    target_update_every: int = 500
    """Env steps between target-network updates (a copy for tau = 1, else a Polyak step)."""
    double: bool = True
    """Double Q-learning: the online network picks the next action, the target network values it."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean(A)."""
    loss: Literal["huber", "mse"] = "mse"
    """TD loss: squared error or Huber with huber_delta."""
    prioritized: bool = False
    """Prioritized replay (proportional, sum-tree) instead of uniform."""
    priority_exponent: float = 0.6
    """Prioritized replay's alpha: how strongly priorities skew sampling."""
    importance_exponent: float = 0.4
    """Prioritized replay's beta: the importance-weight correction's exponent."""
    num_atoms: int | None = None
    """C51: atoms of the categorical return distribution spread over [v_min, v_max]; None: scalar Q."""
    v_min: float = 0.0
    """C51: the lowest atom."""
    v_max: float = 500.0
    """C51: the highest atom."""
    epsilon_start: float = 1.0
    """Exploration rate at the start of the run."""
    epsilon_end: float = 0.05
    """Exploration rate after the anneal."""
    exploration_fraction: float = 0.5
    """Fraction of total_timesteps over which epsilon anneals linearly."""
    tau: float = 1.0
    """Target update step: 1 copies the online network, < 1 averages (Polyak)."""
    huber_delta: float = 1.0
    """Huber loss's delta (with loss="huber")."""

    ranges = dict(target_update_every=at_least(1), double=BOOL, dueling=BOOL, loss=OneOf(("huber", "mse")),
                  prioritized=BOOL, priority_exponent=NON_NEGATIVE, importance_exponent=UNIT,
                  num_atoms=at_least(2).or_none(), v_min=FINITE, v_max=FINITE, epsilon_start=UNIT, epsilon_end=UNIT,
                  exploration_fraction=STEP, tau=STEP, huber_delta=POSITIVE)

    def check(self) -> None:
        super().check()
        require = self.require
        # target_update_every is counted in env steps; the learner counts updates.
        updates = self.target_update_every * self.updates_per_step
        require(updates % self.train_every == 0, "target_update_every",
                f"must be a multiple of train_every / updates_per_step = {self.train_every / self.updates_per_step:g} "
                f"(the target is updated after a whole number of gradient updates)")
        require(self.v_max > self.v_min, "v_max", f"must be > v_min={self.v_min}")

    @property
    def target_period(self) -> int:
        """Gradient updates between target-network updates."""
        return self.target_update_every * self.updates_per_step // self.train_every
