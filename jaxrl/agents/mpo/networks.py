"""MPO's networks: a diagonal Gaussian policy with state-dependent standard deviation, and a Q(s, a)
critic."""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax

from jaxrl import networks
from jaxrl.types import EnvSpec

# The smallest standard deviation the policy can take (Acme's MultivariateNormalDiagHead's).
MIN_STD = 1e-6


class GaussianActor(nn.Module):
    """`observation -> (mean [..., A], std [..., A])`: std = init_std softplus(x) / softplus(0) +
    MIN_STD, so a zero output gives `init_std` (Acme's MPO head). Samples are clipped to the
    [-1, 1] action box where they are used, never inside the distribution."""

    action_size: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    observation_ndim: int = 1
    init_std: float = 0.7

    @nn.compact
    def __call__(self, observation: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = networks.flatten_observation(observation, self.observation_ndim)
        x = networks.MLP(self.hidden_sizes, self.activation)(x)
        mean = nn.Dense(self.action_size, kernel_init=nn.initializers.variance_scaling(1e-4, "fan_in", "uniform"))(x)
        std = nn.Dense(self.action_size, kernel_init=nn.initializers.variance_scaling(1e-4, "fan_in", "uniform"))(x)
        std = self.init_std * jax.nn.softplus(std) / math.log(2.0) + MIN_STD
        return mean, std


def make_networks(spec: EnvSpec, hidden_sizes: Sequence[int], activation: str,
                  init_std: float) -> tuple[GaussianActor, networks.CriticEnsemble]:
    """The policy and the critic (an ensemble of one) for an environment `spec`."""
    observation_ndim = len(spec.observation.shape)
    actor = GaussianActor(int(spec.action.shape[-1]), tuple(hidden_sizes), activation, observation_ndim, init_std)
    critic = networks.CriticEnsemble(1, tuple(hidden_sizes), activation, None, observation_ndim)
    return actor, critic


def sample(key: jax.Array, mean: jax.Array, std: jax.Array, num_samples: int) -> jax.Array:
    """`num_samples` draws of N(mean, diag(std^2)): [num_samples, ..., A]."""
    noise = jax.random.normal(key, (num_samples,) + mean.shape, mean.dtype)
    return mean + std * noise


__all__ = ["GaussianActor", "MIN_STD", "make_networks", "sample"]
