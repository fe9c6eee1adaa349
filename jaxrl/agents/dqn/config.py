"""DQN's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import flax.struct

from jaxrl.agents.config import OffPolicyConfig, finite_in, is_int
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
class Config(OffPolicyConfig):
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

    num_envs: int = 10
    """Environments stepped in parallel (one vmapped batch) by each population member."""
    buffer_size: int = 10_000
    """Replay capacity in transitions (the oldest are overwritten)."""
    batch_size: int = 128
    """Transitions per sampled batch, one batch per gradient update."""
    learning_starts: int = 10_000
    """Env steps of uniformly random actions, without updates, before learning starts."""
    train_every: int = 10
    """Env steps (summed over the env batch) between rounds of gradient updates."""
    activation: str = "relu"
    """Activation of the hidden layers (relu, tanh, gelu, ...)."""
    target_update_every: int = 500
    """Env steps between target-network updates (a copy for tau = 1, else a Polyak step)."""
    double: bool = True
    """Double Q-learning: the online network picks the next action, the target network values it."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean(A)."""
    n_step: int = 1
    """n of n-step returns."""
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
    learning_rate: float = 2.5e-4
    """Adam step size."""
    epsilon_start: float = 1.0
    """Exploration rate at the start of the run."""
    epsilon_end: float = 0.05
    """Exploration rate after the anneal."""
    exploration_fraction: float = 0.5
    """Fraction of total_timesteps over which epsilon anneals linearly."""
    tau: float = 1.0
    """Target update step: 1 copies the online network, < 1 averages (Polyak)."""
    max_grad_norm: float = 10.0
    """Global norm the gradient is clipped to."""
    huber_delta: float = 1.0
    """Huber loss's delta (with loss="huber")."""

    def check(self) -> None:
        super().check()
        require = self.require
        for field in ("target_update_every", "n_step"):
            require(is_int(getattr(self, field), 1), field, "must be an int >= 1")
        # target_update_every is counted in env steps; the learner counts updates.
        updates = self.target_update_every * self.updates_per_step
        require(updates % self.train_every == 0, "target_update_every",
                f"must be a multiple of train_every / updates_per_step = {self.train_every / self.updates_per_step:g} "
                f"(the target is updated after a whole number of gradient updates)")
        require(self.loss in ("huber", "mse"), "loss", "must be 'huber' or 'mse'")
        require(self.num_atoms is None or is_int(self.num_atoms, 2), "num_atoms", "must be None or an int >= 2")
        require(finite_in(self.v_min, -math.inf, math.inf) and finite_in(self.v_max, -math.inf, math.inf)
                and self.v_min < self.v_max, "v_max", f"must be finite and > v_min={self.v_min}")
        require(finite_in(self.priority_exponent, 0.0, math.inf), "priority_exponent", "must be >= 0")
        require(finite_in(self.importance_exponent, 0.0, 1.0), "importance_exponent", "must be in [0, 1]")
        require(finite_in(self.learning_rate, 0.0, math.inf, low_open=True), "learning_rate", "must be > 0")
        require(finite_in(self.epsilon_start, 0.0, 1.0), "epsilon_start", "must be in [0, 1]")
        require(finite_in(self.epsilon_end, 0.0, 1.0), "epsilon_end", "must be in [0, 1]")
        require(finite_in(self.exploration_fraction, 0.0, 1.0, low_open=True), "exploration_fraction",
                "must be in (0, 1]")
        require(finite_in(self.tau, 0.0, 1.0, low_open=True), "tau", "must be in (0, 1]")
        require(finite_in(self.max_grad_norm, 0.0, math.inf, low_open=True), "max_grad_norm", "must be > 0")
        require(finite_in(self.huber_delta, 0.0, math.inf, low_open=True), "huber_delta", "must be > 0")

    @property
    def target_period(self) -> int:
        """Gradient updates between target-network updates."""
        return self.target_update_every * self.updates_per_step // self.train_every
