"""PQN's Q-network: an MLP torso with LayerNorm before each activation, and a Q head."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from jaxrl import networks
from jaxrl.types import EnvSpec


class QNetwork(nn.Module):
    """`__call__(obs) -> Q(s, .)` [..., A]."""

    num_actions: int
    observation_ndim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = True

    @nn.compact
    def __call__(self, observation: jax.Array) -> jax.Array:
        x = networks.flatten_observation(observation, self.observation_ndim)
        # Row-major weight gradients where the CPU tricks are on (networks/dense.py).
        x = networks.MLP(self.hidden_sizes, self.activation, row_major_grads=True, layer_norm=self.layer_norm)(x)
        return networks.QHead(self.num_actions)(x)


def make_network(spec: EnvSpec, hidden_sizes: Sequence[int], activation: str, layer_norm: bool) -> QNetwork:
    return QNetwork(
        num_actions=spec.action.num_values,
        observation_ndim=len(spec.observation.shape),
        hidden_sizes=tuple(hidden_sizes),
        activation=activation,
        layer_norm=layer_norm,
    )
