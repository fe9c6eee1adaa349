"""IQL's networks: SAC's tanh-Gaussian policy and twin Q(s, a) critics, and a state value V(s)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl import networks
from jaxrl.agents.sac.networks import TanhGaussianActor
from jaxrl.types import EnvSpec


class StateValue(nn.Module):
    """V(s): an MLP on the flattened observation."""

    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    observation_ndim: int = 1

    @nn.compact
    def __call__(self, observation: jax.Array) -> jax.Array:
        x = networks.MLP(self.hidden_sizes, self.activation)(
            networks.flatten_observation(observation, self.observation_ndim))
        return jnp.squeeze(nn.Dense(1)(x), -1)


def make_networks(spec: EnvSpec, hidden_sizes: Sequence[int],
                  activation: str) -> tuple[TanhGaussianActor, networks.CriticEnsemble, StateValue]:
    """The policy, the twin critics and the value network for an environment `spec`."""
    observation_ndim = len(spec.observation.shape)
    actor = TanhGaussianActor(int(spec.action.shape[-1]), tuple(hidden_sizes), activation, observation_ndim)
    critic = networks.CriticEnsemble(2, tuple(hidden_sizes), activation, None, observation_ndim)
    return actor, critic, StateValue(tuple(hidden_sizes), activation, observation_ndim)
