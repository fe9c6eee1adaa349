"""TD3's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses

import flax.struct

from jaxrl.agents.config import NON_NEGATIVE, AgentConfig, at_least
from jaxrl.agents.ddpg import config as ddpg_config
from jaxrl.types import Array


@flax.struct.dataclass
class HParams(ddpg_config.HParams):
    """TD3's numeric hyperparameters: DDPG's, and the target policy smoothing noise."""

    target_noise: Array
    target_noise_clip: Array


@dataclasses.dataclass(frozen=True)
class TwinDelayedConfig(AgentConfig):
    """TD3's own fields beside DDPG's, which TD3+BC (td3_bc) shares: target policy smoothing and the
    actor's delay."""

    policy_delay: int = 2
    """Critic updates per actor and target update."""
    target_noise: float = 0.2
    """Standard deviation of the smoothing noise on the target action."""
    target_noise_clip: float = 0.5
    """Bound on the target smoothing noise."""

    ranges = dict(policy_delay=at_least(1), target_noise=NON_NEGATIVE, target_noise_clip=NON_NEGATIVE)


@dataclasses.dataclass(frozen=True)
class Config(ddpg_config.Config, TwinDelayedConfig):
    """Twin Delayed DDPG (Fujimoto et al. 2018, "Addressing Function Approximation Error in
    Actor-Critic Methods", arXiv:1802.09477): DDPG with twin critics whose minimum forms the target
    (clipped double Q-learning), target policy smoothing (clipped Gaussian noise of scale
    `target_noise`, clipped to +-`target_noise_clip`, on the target action) and actor and target
    updates delayed to every `policy_delay`-th critic update.

    Defaults: the paper's settings as in the authors' current code (Adam 3e-4, batch 256, two
    layers of 256, tau 0.005, exploration noise 0.1, target noise 0.2 clipped at 0.5, delay 2),
    with a short warm-up and budget for Pendulum-v1.
    """

    agent = "td3"
    HParams = HParams
    defaults = dict(actor_learning_rate=3e-4, critic_learning_rate=3e-4)
