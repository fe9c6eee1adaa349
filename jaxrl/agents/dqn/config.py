"""DQN's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.struct

from jaxrl.agents.config import (BOOL, FINITE, NON_NEGATIVE, POSITIVE, UNIT, EpsilonGreedyConfig, OneOf,
                                 OptimizerConfig, TargetNetworkConfig, TorsoConfig, at_least)
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
class Config(TargetNetworkConfig, OptimizerConfig, EpsilonGreedyConfig, TorsoConfig):
    """Deep Q-Networks (Mnih et al. 2015) with the Rainbow-era options (Hessel et al. 2018).

    Double Q-learning (van Hasselt et al. 2016) by default; dueling heads (Wang et al. 2016),
    n-step returns, prioritized replay (Schaul et al. 2016), the categorical C51 head
    (`num_atoms`, Bellemare et al. 2017) and Huber or squared TD loss (scalar Q only) are options. Step counts
    (`learning_starts`, `train_every`, `target_update_every`, `steps_per_iteration`) are env
    steps summed over the env batch, as in PureJaxRL. Defaults are PureJaxRL's CartPole-v1 DQN
    (10 envs, buffer 10k, batch 128, an update every 10 env steps, target copy every 500).
    """

    agent = "dqn"
    HParams = HParams
    actions = "discrete"
    defaults = dict(num_envs=10, buffer_size=10_000, batch_size=128, learning_starts=10_000, train_every=10,
                    activation="relu", max_grad_norm=10.0)

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
    huber_delta: float = 1.0
    """Huber loss's delta (with loss="huber")."""

    ranges = dict(double=BOOL, dueling=BOOL, loss=OneOf(("huber", "mse")), prioritized=BOOL,
                  priority_exponent=NON_NEGATIVE, importance_exponent=UNIT, num_atoms=at_least(2).or_none(),
                  v_min=FINITE, v_max=FINITE, huber_delta=POSITIVE)

    def check(self) -> None:
        super().check()
        self.require(self.v_max > self.v_min, "v_max", f"must be > v_min={self.v_min}")
        # C51 learns by the cross-entropy to the projected target distribution: a TD loss has no part.
        self.require(self.num_atoms is None or self.loss == "mse", "loss",
                     f"must be 'mse' (the default) with num_atoms={self.num_atoms}: C51 learns by the categorical "
                     f"cross-entropy, so a Huber loss would be ignored")
