"""AIL's discriminator: an MLP on the flattened observation, the action and the absorbing flag."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl import networks


class Discriminator(nn.Module):
    """D's logit on inputs [..., D] (`learning.discriminator_inputs`): D = sigmoid(logit) is the
    probability that the pair is the demonstrator's."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"

    @nn.compact
    def __call__(self, inputs: jax.Array) -> jax.Array:
        return jnp.squeeze(nn.Dense(1)(networks.MLP(self.hidden_sizes, self.activation)(inputs)), -1)
