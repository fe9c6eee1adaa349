"""BC's policy network: a torso and a policy head (categorical, Gaussian or a deterministic tanh
output, by the action space and the loss)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl import networks
from jaxrl.types import EnvSpec


class PolicyNetwork(nn.Module):
    """`__call__(obs)`: a `networks.Policy` (categorical, or Gaussian for `deterministic=False`
    continuous actions), or with `deterministic` the action tanh(.) in [-1, 1]^A itself."""

    discrete: bool
    action_size: int
    observation_ndim: int
    deterministic: bool
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    torso: str = "mlp"
    action_bounded: bool = True  # a continuous action box's bounds are finite: the greedy action is clipped

    @nn.compact
    def __call__(self, observation: jax.Array) -> networks.Policy | jax.Array:
        x = networks.torso_input(self.torso, observation, self.observation_ndim)
        x = networks.make_torso(self.torso, self.hidden_sizes, self.activation)(x)
        if self.deterministic:
            return jnp.tanh(nn.Dense(self.action_size, kernel_init=networks.initializers.orthogonal(0.01))(x))
        return networks.policy_head(self.discrete, self.action_size, bounded=self.action_bounded)(x)


def make_network(spec: EnvSpec, hidden_sizes: Sequence[int], activation: str, loss: str,
                 torso: str = "mlp") -> PolicyNetwork:
    discrete = spec.discrete_actions
    return PolicyNetwork(discrete=discrete,
                         action_size=spec.action.num_values if discrete else int(spec.action.shape[-1]),
                         observation_ndim=len(spec.observation.shape), deterministic=not discrete and loss == "mse",
                         hidden_sizes=tuple(hidden_sizes), activation=activation, torso=torso,
                         action_bounded=discrete or spec.action.bounded)
