"""DDPG's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.struct

from jaxrl.agents.config import NON_NEGATIVE, STEP, ActorCriticHParams, ContinuousOffPolicyConfig, OneOf
from jaxrl.types import Array


@flax.struct.dataclass
class HParams(ActorCriticHParams):
    """DDPG's numeric hyperparameters: the actor-critic ones and the exploration noise."""

    exploration_noise: Array


@dataclasses.dataclass(frozen=True)
class Config(ContinuousOffPolicyConfig):
    """Deep Deterministic Policy Gradient (Lillicrap et al. 2016, arXiv:1509.02971): a deterministic
    tanh actor trained by the deterministic policy gradient of one critic, both with Polyak target
    copies; exploration by Gaussian action noise of scale `exploration_noise` (Fujimoto et al.
    2018 found it as good as the paper's Ornstein-Uhlenbeck noise), or by the paper's
    Ornstein-Uhlenbeck noise (`exploration="ou"`), which hard-exploration tasks such as
    MountainCarContinuous-v0 need: its temporally correlated pushes build momentum where
    independent noise averages out.

    Defaults: the paper's learning rates (1e-4 actor, 1e-3 critic) and gamma, with the batch of
    256, two layers of 256 and tau 0.005 of Fujimoto et al.'s re-tuned DDPG, without the paper's
    critic weight decay; a short warm-up and budget for Pendulum-v1.
    """

    agent = "ddpg"
    HParams = HParams

    actor_learning_rate: float = 1e-4
    """Adam step size of the actor."""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critic."""
    exploration_noise: float = 0.1
    """Standard deviation of the noise added to actions in [-1, 1] while training (for "ou", the
    process's stationary standard deviation)."""
    exploration: Literal["gaussian", "ou"] = "gaussian"
    """Action noise: independent Gaussian per step, or an Ornstein-Uhlenbeck process per env
    (`ddpg.learning.ou_noise_step`), zeroed where an episode starts."""
    ou_theta: float = 0.15
    """The Ornstein-Uhlenbeck process's mean reversion per step (the paper's 0.15): the noise keeps
    1 - ou_theta of itself each step, so it stays correlated over about 1 / ou_theta steps."""

    ranges = dict(exploration_noise=NON_NEGATIVE, exploration=OneOf(("gaussian", "ou")),
                  ou_theta=STEP)
