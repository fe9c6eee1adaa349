"""DQN's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import flax.struct

from jaxrl.agents.config_checks import default_hparams, finite_in, requirer
from jaxrl.types import Array, EnvSpec


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
class Config:
    """Deep Q-Networks (Mnih et al. 2015) with the Rainbow-era options (Hessel et al. 2018).

    Double Q-learning (van Hasselt et al. 2016) by default; dueling heads (Wang et al. 2016),
    n-step returns, prioritized replay (Schaul et al. 2016), the categorical C51 head
    (`num_atoms`, Bellemare et al. 2017) and Huber or squared TD loss are options. Counts of
    steps (`learning_starts`, `train_every`, `target_update_every`, `steps_per_iteration`) are
    environment steps summed over the env batch, as in PureJaxRL; `train_every` env steps are
    followed by `updates_per_step` gradient updates. Defaults are PureJaxRL's CartPole-v1 DQN
    (10 envs, buffer 10k, batch 128, an update every 10 env steps, target copy every 500).
    """

    env: str = "CartPole-v1"
    num_envs: int = 10
    total_timesteps: int = 500_000
    buffer_size: int = 10_000
    batch_size: int = 128
    learning_starts: int = 10_000
    train_every: int = 10
    updates_per_step: int = 1
    target_update_every: int = 500
    steps_per_iteration: int = 1_000
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    double: bool = True
    dueling: bool = False
    n_step: int = 1
    loss: Literal["huber", "mse"] = "mse"
    prioritized: bool = False
    priority_exponent: float = 0.6
    importance_exponent: float = 0.4
    # C51: None for scalar Q-values, else the number of atoms spread evenly over [v_min, v_max].
    num_atoms: int | None = None
    v_min: float = 0.0
    v_max: float = 500.0
    episode_length: int | None = None
    # Greedy evaluation (`Train.evaluate`, called by the driver): one episode in each of this many
    # separate envs.
    eval_episodes: int = 10
    normalize_observations: bool = False
    # Hyperparameters (defaults of `hparams()`).
    learning_rate: float = 2.5e-4
    gamma: float = 0.99
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    exploration_fraction: float = 0.5
    tau: float = 1.0
    max_grad_norm: float = 10.0
    huber_delta: float = 1.0

    def __post_init__(self):
        require = requirer(self, "dqn")

        positive = ("num_envs", "total_timesteps", "buffer_size", "batch_size", "train_every",
                    "updates_per_step", "target_update_every", "steps_per_iteration", "n_step")
        for field in positive:
            value = getattr(self, field)
            require(isinstance(value, int) and not isinstance(value, bool) and value >= 1, field,
                    "must be an int >= 1")
        require(isinstance(self.learning_starts, int) and self.learning_starts >= 0, "learning_starts",
                "must be an int >= 0")
        require(bool(self.env) and isinstance(self.env, str), "env", "must be an environment name")
        # The loop acts in whole steps of the env batch and learns after whole update periods.
        require(self.train_every % self.num_envs == 0 or self.num_envs % self.train_every == 0, "train_every",
                f"must be a multiple or a divisor of num_envs={self.num_envs}")
        require(self.steps_per_iteration % self.period_env_steps == 0, "steps_per_iteration",
                f"must be a multiple of the update period, max(train_every, num_envs) = {self.period_env_steps}")
        require(self.total_timesteps >= self.steps_per_iteration, "total_timesteps",
                f"must be at least steps_per_iteration={self.steps_per_iteration}")
        require(self.learning_starts % self.num_envs == 0, "learning_starts",
                f"must be a multiple of num_envs={self.num_envs}")
        require(self.batch_size <= self.buffer_size, "batch_size", f"must be <= buffer_size={self.buffer_size}")
        require(self.period_env_steps <= self.buffer_size, "buffer_size",
                f"must hold one update period's {self.period_env_steps} transitions")
        # target_update_every is counted in env steps; the learner counts updates.
        updates = self.target_update_every * self.updates_per_step
        require(updates % self.train_every == 0, "target_update_every",
                f"must be a multiple of train_every / updates_per_step = {self.train_every / self.updates_per_step:g} "
                f"(the target is updated after a whole number of gradient updates)")
        require(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes), "hidden_sizes",
                "must be a non-empty sequence of positive ints")
        require(self.loss in ("huber", "mse"), "loss", "must be 'huber' or 'mse'")
        require(self.num_atoms is None or (isinstance(self.num_atoms, int) and self.num_atoms >= 2), "num_atoms",
                "must be None or an int >= 2")
        require(math.isfinite(self.v_min) and math.isfinite(self.v_max) and self.v_min < self.v_max, "v_max",
                f"must be finite and > v_min={self.v_min}")
        require(self.episode_length is None or self.episode_length >= 1, "episode_length", "must be >= 1 or None")
        require(isinstance(self.eval_episodes, int) and self.eval_episodes >= 1, "eval_episodes", "must be an int >= 1")
        require(finite_in(self.priority_exponent, 0.0, math.inf), "priority_exponent", "must be >= 0")
        require(finite_in(self.importance_exponent, 0.0, 1.0), "importance_exponent", "must be in [0, 1]")
        require(finite_in(self.learning_rate, 0.0, math.inf, low_open=True), "learning_rate", "must be > 0")
        require(finite_in(self.gamma, 0.0, 1.0), "gamma", "must be in [0, 1]")
        require(finite_in(self.epsilon_start, 0.0, 1.0), "epsilon_start", "must be in [0, 1]")
        require(finite_in(self.epsilon_end, 0.0, 1.0), "epsilon_end", "must be in [0, 1]")
        require(finite_in(self.exploration_fraction, 0.0, 1.0, low_open=True), "exploration_fraction",
                "must be in (0, 1]")
        require(finite_in(self.tau, 0.0, 1.0, low_open=True), "tau", "must be in (0, 1]")
        require(finite_in(self.max_grad_norm, 0.0, math.inf, low_open=True), "max_grad_norm", "must be > 0")
        require(finite_in(self.huber_delta, 0.0, math.inf, low_open=True), "huber_delta", "must be > 0")
        from jaxrl.networks import ACTIVATIONS

        require(self.activation in ACTIVATIONS, "activation", f"must be one of {sorted(ACTIVATIONS)}")

    @property
    def period_env_steps(self) -> int:
        """Env steps per update period: `train_every`, or one step of the batch if that is more."""
        return max(self.train_every, self.num_envs)

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.steps_per_iteration

    @property
    def target_period(self) -> int:
        """Gradient updates between target-network updates."""
        return self.target_update_every * self.updates_per_step // self.train_every

    def hparams(self) -> HParams:
        """The default hyperparameters as float32 scalar arrays."""
        return default_hparams(self, HParams)

    def check_spec(self, spec: EnvSpec) -> None:
        """DQN needs discrete actions; raises ValueError naming the environment otherwise."""
        if not spec.discrete_actions:
            raise ValueError(
                f"dqn.Config.env: DQN needs discrete actions, but {spec.name} has {spec.action}; "
                f"use sac, td3, ddpg or d4pg for continuous actions"
            )

