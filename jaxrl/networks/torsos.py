"""Torsos: the feature extractors shared by policy, value and Q heads."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.networks import initializers
from jaxrl.networks.dense import Dense

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": nn.tanh,
    "relu": nn.relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
}


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


class MLP(nn.Module):
    """A multi-layer perceptron with orthogonal initialisation (Saxe et al. 2014), the usual
    choice for PPO and actor-critic torsos (Andrychowicz et al. 2021, "What matters in
    on-policy RL")."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    activate_final: bool = True
    # `networks.dense.Dense` layers (same parameters and values as `nn.Dense`; where the CPU tricks
    # are on, by default on CPU only, weight gradients as row-major matmuls, which XLA:CPU runs
    # faster, equal up to float summation order).
    row_major_grads: bool = False
    # LayerNorm (Ba et al. 2016) between each hidden layer and its activation: what lets PQN learn
    # without a target network (Gallici et al. 2024, arXiv:2407.04811).
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation_fn(self.activation)
        layer = Dense if self.row_major_grads else nn.Dense
        for i, size in enumerate(self.hidden_sizes):
            x = layer(size, kernel_init=initializers.orthogonal(np.sqrt(2.0)))(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            if i < len(self.hidden_sizes) - 1 or self.activate_final:
                x = act(x)
        return x


def flatten_observation(x: jax.Array, observation_ndim: int) -> jax.Array:
    """Flattens the trailing `observation_ndim` axes (e.g. MinAtar's HxWxC) for an MLP."""
    if observation_ndim <= 1:
        return x
    return jnp.reshape(x, x.shape[: x.ndim - observation_ndim] + (-1,))
