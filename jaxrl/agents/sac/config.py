"""SAC's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
import math

import flax.struct

from jaxrl.agents import continuous_off_policy
from jaxrl.agents.config_checks import default_hparams
from jaxrl.types import Array, EnvSpec


@flax.struct.dataclass
class HParams:
    """SAC's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    actor_learning_rate: Array
    critic_learning_rate: Array
    temperature_learning_rate: Array
    gamma: Array
    tau: Array
    init_temperature: Array
    target_entropy_per_dim: Array


@dataclasses.dataclass(frozen=True)
class Config:
    """Soft Actor-Critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications",
    arXiv:1812.05905): twin critics with Polyak target copies, a tanh-squashed Gaussian policy and
    a temperature learned toward a target entropy of `target_entropy_per_dim * |A|` (-|A|).

    Counts (`total_timesteps`, `learning_starts`, `train_every`, `steps_per_iteration`) are env
    steps summed over the env batch; every `train_every` env steps are followed by
    `updates_per_step` gradient updates. The paper's settings (Adam 3e-4, batch 256, two layers
    of 256, tau 0.005, gamma 0.99) with a short warm-up and budget for Pendulum-v1. Fields from
    `actor_learning_rate` down are the defaults of `hparams()`.
    """

    env: str = "Pendulum-v1"
    """Environment name for jaxrl.make: a gymnax id (Pendulum-v1, ...) or brax/<name>; continuous actions."""
    num_envs: int = 1
    """Environments stepped in parallel (vmapped) per seed."""
    total_timesteps: int = 20_000
    """Env steps of the run, summed over the env batch; a multiple of steps_per_iteration."""
    buffer_size: int = 100_000
    """Replay buffer capacity in transitions."""
    batch_size: int = 256
    """Transitions sampled from the buffer per gradient update."""
    learning_starts: int = 1_000
    """Env steps (summed over envs) of uniformly random actions, without updates, before learning."""
    train_every: int = 1
    """Env steps (summed over envs) between bursts of updates_per_step gradient updates."""
    updates_per_step: int = 1
    """Gradient updates after every train_every env steps."""
    steps_per_iteration: int = 1_000
    """Env steps (summed over envs) per iteration, the unit of metrics rows and chunks."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden-layer widths of the actor and critic MLPs."""
    activation: str = "relu"
    """Hidden-layer activation, a name in jaxrl.networks.ACTIVATIONS (relu, tanh, ...)."""
    episode_length: int | None = None
    """Time limit in env steps (None: the environment's own; brax: 1000)."""
    eval_episodes: int = 10
    """Greedy evaluation (--eval-every): one episode in each of this many separate envs."""
    normalize_observations: bool = False
    """Normalise observations by their running mean and variance."""
    # Hyperparameters (defaults of `hparams()`).
    actor_learning_rate: float = 3e-4
    """Adam step size of the actor."""
    critic_learning_rate: float = 3e-4
    """Adam step size of the twin critics."""
    temperature_learning_rate: float = 3e-4
    """Adam step size of the entropy temperature (learned as its logarithm)."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate of the target networks: target <- tau * online + (1 - tau) * target."""
    init_temperature: float = 1.0
    """Initial entropy temperature alpha."""
    target_entropy_per_dim: float = -1.0
    """Target entropy per action dimension: the target is this times the action size."""

    def __post_init__(self):
        continuous_off_policy.check_common(self, "sac")
        require = continuous_off_policy.requirer(self, "sac")
        finite_in = continuous_off_policy.finite_in
        require(finite_in(self.temperature_learning_rate, 0.0, math.inf, low_open=True), "temperature_learning_rate",
                "must be > 0")
        require(finite_in(self.init_temperature, 0.0, math.inf, low_open=True), "init_temperature", "must be > 0")
        require(finite_in(self.target_entropy_per_dim, -math.inf, math.inf), "target_entropy_per_dim",
                "must be a finite number")

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.steps_per_iteration

    def hparams(self) -> HParams:
        """The default hyperparameters as float32 scalar arrays."""
        return default_hparams(self, HParams)

    def check_spec(self, spec: EnvSpec) -> None:
        """SAC needs continuous actions; raises ValueError naming the environment otherwise."""
        continuous_off_policy.check_continuous_actions(spec, "sac")
