"""TD3's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
import math

import flax.struct

from jaxrl.agents import continuous_off_policy
from jaxrl.agents.config_checks import default_hparams
from jaxrl.types import Array, EnvSpec


@flax.struct.dataclass
class HParams:
    """TD3's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    actor_learning_rate: Array
    critic_learning_rate: Array
    gamma: Array
    tau: Array
    exploration_noise: Array
    target_noise: Array
    target_noise_clip: Array


@dataclasses.dataclass(frozen=True)
class Config:
    """Twin Delayed DDPG (Fujimoto et al. 2018, "Addressing Function Approximation Error in
    Actor-Critic Methods", arXiv:1802.09477): DDPG with twin critics whose minimum forms the target
    (clipped double Q-learning), target policy smoothing (clipped Gaussian noise of scale
    `target_noise`, clipped to +-`target_noise_clip`, on the target action) and actor and target
    updates delayed to every `policy_delay`-th critic update.

    Counts (`total_timesteps`, `learning_starts`, `train_every`, `steps_per_iteration`) are env
    steps summed over the env batch; every `train_every` env steps are followed by
    `updates_per_step` gradient updates. Defaults: the paper's settings as in the authors'
    current code (Adam 3e-4, batch 256, two layers of 256, tau 0.005, exploration noise 0.1,
    target noise 0.2 clipped at 0.5, delay 2), with a short warm-up and budget for Pendulum-v1.
    Fields from `actor_learning_rate` down are the defaults of `hparams()`.
    """

    env: str = "Pendulum-v1"
    num_envs: int = 1
    total_timesteps: int = 20_000
    buffer_size: int = 100_000
    batch_size: int = 256
    learning_starts: int = 1_000
    train_every: int = 1
    updates_per_step: int = 1
    steps_per_iteration: int = 1_000
    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    episode_length: int | None = None
    # Greedy evaluation (`Train.evaluate`, called by the driver): one episode in each of this many
    # separate envs.
    eval_episodes: int = 10
    normalize_observations: bool = False
    policy_delay: int = 2
    # Hyperparameters (defaults of `hparams()`).
    actor_learning_rate: float = 3e-4
    critic_learning_rate: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    exploration_noise: float = 0.1
    target_noise: float = 0.2
    target_noise_clip: float = 0.5

    def __post_init__(self):
        continuous_off_policy.check_common(self, "td3")
        require = continuous_off_policy.requirer(self, "td3")
        finite_in = continuous_off_policy.finite_in
        require(isinstance(self.policy_delay, int) and not isinstance(self.policy_delay, bool)
                and self.policy_delay >= 1, "policy_delay", "must be an int >= 1")
        for field in ("exploration_noise", "target_noise", "target_noise_clip"):
            require(finite_in(getattr(self, field), 0.0, math.inf), field, "must be >= 0")

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.steps_per_iteration

    def hparams(self) -> HParams:
        """The default hyperparameters as float32 scalar arrays."""
        return default_hparams(self, HParams)

    def check_spec(self, spec: EnvSpec) -> None:
        """TD3 needs continuous actions; raises ValueError naming the environment otherwise."""
        continuous_off_policy.check_continuous_actions(spec, "td3")
