"""DQN's Q-network: an MLP torso and a Q head (optionally dueling, optionally C51 logits). PQN's
is the same network with LayerNorm in the torso."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from jaxrl import networks
from jaxrl.types import EnvSpec


class QNetwork(nn.Module):
    """`__call__(obs) -> Q(s, .)` [..., A], or C51 logits [..., A, num_atoms] when `num_atoms` is set."""

    num_actions: int
    observation_ndim: int
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "relu"
    dueling: bool = False
    num_atoms: int | None = None
    # LayerNorm before each hidden activation (PQN's stabiliser in place of a target network).
    layer_norm: bool = False
    # Row-major weight gradients, torso and head, where the CPU tricks are on (networks/dense.py); PQN's setting.
    row_major_grads: bool = False
    # "mlp", or "conv" for image observations (networks.ConvTorso before the MLP).
    torso: str = "mlp"

    @nn.compact
    def __call__(self, observation: jax.Array) -> jax.Array:
        x = networks.torso_input(self.torso, observation, self.observation_ndim)
        x = networks.make_torso(self.torso, self.hidden_sizes, self.activation, row_major_grads=self.row_major_grads,
                                layer_norm=self.layer_norm)(x)
        return networks.QHead(self.num_actions, self.dueling, self.num_atoms,
                              row_major_grads=self.row_major_grads)(x)


def make_network(spec: EnvSpec, hidden_sizes: Sequence[int], activation: str, dueling: bool,
                 num_atoms: int | None, layer_norm: bool = False, row_major_grads: bool = False,
                 torso: str = "mlp") -> QNetwork:
    return QNetwork(
        num_actions=spec.action.num_values,
        observation_ndim=len(spec.observation.shape),
        hidden_sizes=tuple(hidden_sizes),
        activation=activation,
        dueling=dueling,
        num_atoms=num_atoms,
        layer_norm=layer_norm,
        row_major_grads=row_major_grads,
        torso=torso,
    )
