"""SAC's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses

import flax.struct

from jaxrl.agents.config import FINITE, POSITIVE, AgentConfig, ContinuousOffPolicyConfig
from jaxrl.types import Array


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
class SoftPolicyConfig(AgentConfig):
    """The entropy temperature of a SAC-style learner (SAC; CQL's continuous learner): alpha,
    learned toward a target entropy of `target_entropy_per_dim * |A|` (Haarnoja et al. 2018,
    arXiv:1812.05905, section 5). Mixed in first, so its fields come after the other bases'."""

    temperature_learning_rate: float = 3e-4
    """Adam step size of the log-temperature."""
    init_temperature: float = 1.0
    """The entropy temperature alpha at the start."""
    target_entropy_per_dim: float = -1.0
    """Target entropy per action dimension (the paper's -|A| in total)."""

    ranges = dict(temperature_learning_rate=POSITIVE, init_temperature=POSITIVE, target_entropy_per_dim=FINITE)


@dataclasses.dataclass(frozen=True)
class Config(SoftPolicyConfig, ContinuousOffPolicyConfig):
    """Soft Actor-Critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications",
    arXiv:1812.05905): twin critics with Polyak target copies, a tanh-squashed Gaussian policy and
    a temperature learned toward a target entropy of `target_entropy_per_dim * |A|` (-|A|).

    Defaults: the paper's settings (Adam 3e-4, batch 256, two layers of 256, tau 0.005, gamma
    0.99) with a short warm-up and budget for Pendulum-v1.
    """

    agent = "sac"
    HParams = HParams
