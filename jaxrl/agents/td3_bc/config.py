"""TD3+BC's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses

import flax.struct

from jaxrl.agents.config import POSITIVE, ActorCriticConfig, ActorCriticHParams, OfflineConfig
from jaxrl.agents.td3.config import TwinDelayedConfig
from jaxrl.types import Array


@flax.struct.dataclass
class HParams(ActorCriticHParams):
    """TD3+BC's numeric hyperparameters: the actor-critic ones, TD3's target noise and alpha."""

    target_noise: Array
    target_noise_clip: Array
    alpha: Array


@dataclasses.dataclass(frozen=True)
class Config(OfflineConfig, ActorCriticConfig, TwinDelayedConfig):
    """TD3+BC (Fujimoto & Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning",
    arXiv:2106.06860): TD3's learner on a dataset, whose actor maximises
    lambda * Q(s, pi(s)) - (pi(s) - a)^2 with lambda = alpha / mean|Q(s, pi(s))|, so the Q term's
    scale does not depend on the rewards'. Without the paper's normalisation of states by the
    dataset's statistics (its ablation finds it a small effect; offline agents read raw
    observations here).

    Defaults: the paper's (alpha 2.5, Adam 3e-4, batch 256, two layers of 256, tau 0.005, TD3's
    target noise 0.2 clipped at 0.5, delay 2) on Pendulum-v1.
    """

    agent = "td3_bc"
    HParams = HParams

    alpha: float = 2.5
    """Weight of the Q term against behaviour cloning (lambda = alpha / mean|Q|): higher trusts the critic more."""

    ranges = dict(alpha=POSITIVE)
