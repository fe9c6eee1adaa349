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
    """Environment name for jaxrl.make: a gymnax id (CartPole-v1, ...) or a registered env; discrete actions."""
    num_envs: int = 10
    """Environments stepped in parallel (vmapped) per seed."""
    total_timesteps: int = 500_000
    """Env steps of the run, summed over the env batch (iterations: this // steps_per_iteration)."""
    buffer_size: int = 10_000
    """Replay buffer capacity in transitions."""
    batch_size: int = 128
    """Transitions sampled from the buffer per gradient update."""
    learning_starts: int = 10_000
    """Env steps (summed over envs) of uniformly random actions, without updates, before learning."""
    train_every: int = 10
    """Env steps (summed over envs) between bursts of updates_per_step gradient updates."""
    updates_per_step: int = 1
    """Gradient updates after every train_every env steps."""
    target_update_every: int = 500
    """Env steps (summed over envs) between target-network updates (see tau)."""
    steps_per_iteration: int = 1_000
    """Env steps (summed over envs) per iteration, the unit of metrics rows and chunks."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden-layer widths of the Q-network's MLP."""
    activation: str = "relu"
    """Hidden-layer activation, a name in jaxrl.networks.ACTIVATIONS (relu, tanh, ...)."""
    double: bool = True
    """Double Q-learning: the online network picks the next action, the target network values it."""
    dueling: bool = False
    """Dueling head (Wang et al. 2016): Q from separate state-value and advantage streams."""
    n_step: int = 1
    """n of the n-step returns in the TD targets."""
    loss: Literal["huber", "mse"] = "mse"
    """TD loss: huber or mse (squared error)."""
    prioritized: bool = False
    """Prioritized replay (Schaul et al. 2016) instead of uniform sampling."""
    priority_exponent: float = 0.6
    """Prioritized replay's alpha: items are sampled in proportion to priority ** alpha."""
    importance_exponent: float = 0.4
    """Prioritized replay's beta: exponent of the importance-sampling weights."""
    num_atoms: int | None = None
    """C51: atoms of the return distribution, evenly spaced on [v_min, v_max] (None: scalar Q-values)."""
    v_min: float = 0.0
    """C51: lowest atom of the return distribution's support."""
    v_max: float = 500.0
    """C51: highest atom of the return distribution's support."""
    episode_length: int | None = None
    """Time limit in env steps (None: the environment's own)."""
    eval_episodes: int = 10
    """Greedy evaluation (--eval-every): one episode in each of this many separate envs."""
    normalize_observations: bool = False
    """Normalise observations by their running mean and variance."""
    # Hyperparameters (defaults of `hparams()`).
    learning_rate: float = 2.5e-4
    """Adam step size."""
    gamma: float = 0.99
    """Discount factor."""
    epsilon_start: float = 1.0
    """Epsilon-greedy exploration's epsilon at the start of the run."""
    epsilon_end: float = 0.05
    """Epsilon after its linear decay."""
    exploration_fraction: float = 0.5
    """Fraction of total_timesteps over which epsilon decays linearly to epsilon_end."""
    tau: float = 1.0
    """Target update: target <- tau * online + (1 - tau) * target every target_update_every (1: copy)."""
    max_grad_norm: float = 10.0
    """Gradients are clipped to this global norm."""
    huber_delta: float = 1.0
    """Where the Huber loss turns from quadratic to linear (loss huber)."""

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

