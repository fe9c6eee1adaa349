"""MPO's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses

import flax.struct

from jaxrl.agents.config import FINITE, POSITIVE, ContinuousOffPolicyConfig, at_least
from jaxrl.types import Array


@flax.struct.dataclass
class HParams:
    """MPO's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    actor_learning_rate: Array
    critic_learning_rate: Array
    dual_learning_rate: Array
    gamma: Array
    tau: Array
    epsilon: Array
    epsilon_mean: Array
    epsilon_std: Array


@dataclasses.dataclass(frozen=True)
class Config(ContinuousOffPolicyConfig):
    """Maximum a posteriori Policy Optimisation (MPO, Abdolmaleki et al. 2018, arXiv:1806.06920):
    an expected Q critic, an E-step that reweights `action_samples` actions per state by exp(Q / eta)
    with the temperature eta learned under a KL bound `epsilon`, and an M-step that fits a Gaussian
    policy to those weights with its mean and its standard deviation each held near the target
    policy by a per-dimension KL bound and a learned Lagrange multiplier (as Acme's MPO).

    Defaults: Acme's MPO bounds and dual initialisation (epsilon 0.1, 0.0025 on the mean, 1e-6 on
    the standard deviation, softplus(10) and softplus(1000) multipliers, dual step 1e-2, 20 action
    samples), with the continuous family's networks and budget for Pendulum-v1 and Polyak targets.
    """

    agent = "mpo"
    HParams = HParams

    action_samples: int = 20
    """Actions sampled per state from the target policy, for the E-step and the critic's target."""
    dual_learning_rate: float = 1e-2
    """Adam step size of the temperature's and the multipliers' parameters."""
    epsilon: float = 0.1
    """E-step bound on KL(q || pi_target), which sets the temperature."""
    epsilon_mean: float = 0.0025
    """M-step bound on the KL of the policy's mean to the target policy, per action dimension."""
    epsilon_std: float = 1e-6
    """M-step bound on the KL of the policy's standard deviation to the target policy, per action dimension."""
    init_log_temperature: float = 10.0
    """The temperature's parameter at the start (eta = softplus of it)."""
    init_log_alpha_mean: float = 10.0
    """The mean multipliers' parameter at the start (alpha = softplus of it)."""
    init_log_alpha_std: float = 1000.0
    """The standard-deviation multipliers' parameter at the start (alpha = softplus of it)."""
    init_std: float = 0.7
    """The policy's standard deviation where its std layer outputs 0."""

    ranges = dict(action_samples=at_least(1), dual_learning_rate=POSITIVE, epsilon=POSITIVE, epsilon_mean=POSITIVE,
                  epsilon_std=POSITIVE, init_log_temperature=FINITE, init_log_alpha_mean=FINITE,
                  init_log_alpha_std=FINITE, init_std=POSITIVE)
