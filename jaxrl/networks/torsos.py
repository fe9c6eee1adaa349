"""Torsos: the feature extractors shared by policy, value and Q heads."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.networks import initializers
from jaxrl.networks.conv import Conv
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


class ConvTorso(nn.Module):
    """A small conv torso for MinAtar-sized images [..., H, W, C] (Young & Tian 2019, arXiv:1903.03176:
    one 3x3 convolution of 16 filters, stride 1, unpadded, then dense layers), ending in an `MLP` of
    `hidden_sizes` on the flattened feature map (8 x 8 x 16 = 1,024 features on MinAtar's 10 x 10
    images). With `layer_norm`, LayerNorm also follows the convolution, over its filters, as in
    PQN's MinAtar network (Gallici et al. 2024). Leading axes (time, envs, batch) are any."""

    hidden_sizes: Sequence[int] = (128,)
    activation: str = "relu"
    filters: int = 16
    kernel_size: int = 3
    padding: str = "VALID"
    row_major_grads: bool = False
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim < 3:
            raise ValueError(f"ConvTorso needs image observations [..., H, W, C], got shape {x.shape}")
        lead = x.shape[:-3]
        images = jnp.reshape(x, (-1,) + x.shape[-3:])
        k = self.kernel_size
        # `networks.conv.Conv`: nn.Conv's parameters and values, a patch matmul on XLA:CPU.
        features = Conv(self.filters, k, padding=self.padding, kernel_init=initializers.orthogonal(np.sqrt(2.0)))(
            images)
        if self.layer_norm:
            features = nn.LayerNorm()(features)
        features = activation_fn(self.activation)(features)
        features = jnp.reshape(features, lead + (-1,))
        return MLP(self.hidden_sizes, self.activation, row_major_grads=self.row_major_grads,
                   layer_norm=self.layer_norm)(features)


TORSOS = ("mlp", "conv")


def make_torso(name: str, hidden_sizes: Sequence[int], activation: str, *, row_major_grads: bool = False,
               layer_norm: bool = False) -> nn.Module:
    """The torso an agent's config names: "mlp" (on observations flattened by `torso_input`) or
    "conv" (`ConvTorso`, on image observations [..., H, W, C])."""
    if name == "conv":
        return ConvTorso(tuple(hidden_sizes), activation, row_major_grads=row_major_grads, layer_norm=layer_norm)
    if name != "mlp":
        raise ValueError(f"torso must be one of {TORSOS}, got {name!r}")
    return MLP(tuple(hidden_sizes), activation, row_major_grads=row_major_grads, layer_norm=layer_norm)


def torso_input(name: str, observation: jax.Array, observation_ndim: int) -> jax.Array:
    """What the torso `name` reads: the observation as it is for "conv", its trailing
    `observation_ndim` axes flattened for "mlp"."""
    return observation if name == "conv" else flatten_observation(observation, observation_ndim)


def flatten_observation(x: jax.Array, observation_ndim: int) -> jax.Array:
    """Flattens the trailing `observation_ndim` axes (e.g. MinAtar's HxWxC) for an MLP."""
    if observation_ndim <= 1:
        return x
    return jnp.reshape(x, x.shape[: x.ndim - observation_ndim] + (-1,))
