"""DDPG's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
import math

import flax.struct

from jaxrl.agents import continuous_off_policy
from jaxrl.agents.config_checks import default_hparams
from jaxrl.types import Array, EnvSpec


@flax.struct.dataclass
class HParams:
    """DDPG's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    actor_learning_rate: Array
    critic_learning_rate: Array
    gamma: Array
    tau: Array
    exploration_noise: Array


@dataclasses.dataclass(frozen=True)
class Config:
    """Deep Deterministic Policy Gradient (Lillicrap et al. 2016, arXiv:1509.02971): a deterministic
    tanh actor trained by the deterministic policy gradient of one critic, both with Polyak target
    copies; exploration by Gaussian action noise of scale `exploration_noise` (Fujimoto et al.
    2018 found it as good as the paper's Ornstein-Uhlenbeck noise).

    Counts (`total_timesteps`, `learning_starts`, `train_every`, `steps_per_iteration`) are env
    steps summed over the env batch; every `train_every` env steps are followed by
    `updates_per_step` gradient updates. Defaults: the paper's learning rates (1e-4 actor, 1e-3
    critic) and gamma, with the batch of 256, two layers of 256 and tau 0.005 of Fujimoto et
    al.'s re-tuned DDPG, without the paper's critic weight decay; a short warm-up and budget
    for Pendulum-v1. Fields from `actor_learning_rate` down are the defaults of `hparams()`.
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
    actor_learning_rate: float = 1e-4
    """Adam step size of the actor."""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critic."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate of the target networks: target <- tau * online + (1 - tau) * target."""
    exploration_noise: float = 0.1
    """Std of the Gaussian noise added to the actor's actions (in [-1, 1] units) when acting."""

    def __post_init__(self):
        continuous_off_policy.check_common(self, "ddpg")
        require = continuous_off_policy.requirer(self, "ddpg")
        require(continuous_off_policy.finite_in(self.exploration_noise, 0.0, math.inf), "exploration_noise",
                "must be >= 0")

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.steps_per_iteration

    def hparams(self) -> HParams:
        """The default hyperparameters as float32 scalar arrays."""
        return default_hparams(self, HParams)

    def check_spec(self, spec: EnvSpec) -> None:
        """DDPG needs continuous actions; raises ValueError naming the environment otherwise."""
        continuous_off_policy.check_continuous_actions(spec, "ddpg")
