"""Heads: map torso features to distrax distributions, values or Q-values.

The policy and value heads use `networks.dense.Dense`: `nn.Dense`'s parameters and values, with
the weight gradient of their 1- or 2-wide output computed as a row-major matmul where the CPU
tricks are on (`jaxrl.tricks`; by default in programs compiled for CPU).
"""

from __future__ import annotations

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.networks import initializers
from jaxrl.networks.dense import Dense

# Small final-layer init keeps the initial policy close to uniform (Andrychowicz et al. 2021).
_POLICY_INIT = initializers.orthogonal(0.01)
_VALUE_INIT = initializers.orthogonal(1.0)


class CategoricalHead(nn.Module):
    """Logits over `num_actions` discrete actions, as a `distrax.Categorical`."""

    num_actions: int

    @nn.compact
    def __call__(self, x: jax.Array) -> distrax.Categorical:
        return distrax.Categorical(logits=Dense(self.num_actions, kernel_init=_POLICY_INIT)(x))


class GaussianHead(nn.Module):
    """A diagonal Gaussian policy with a state-independent, learned log standard deviation.

    `squash="tanh"` returns tanh(N(mu, sigma)) (Haarnoja et al. 2018), whose samples lie in
    (-1, 1); `squash="none"` returns the plain Gaussian, whose samples the environment clips
    (the "clipped Gaussian" of PPO's original continuous-control setup, Schulman et al. 2017).
    """

    action_dim: int
    squash: str = "none"
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array) -> distrax.Distribution:
        mean = Dense(self.action_dim, kernel_init=_POLICY_INIT)(x)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,))
        std = jnp.broadcast_to(jnp.exp(log_std), mean.shape)
        base = distrax.MultivariateNormalDiag(mean, std)
        if self.squash == "tanh":
            return distrax.Transformed(base, distrax.Block(distrax.Tanh(), ndims=1))
        if self.squash == "none":
            return base
        raise ValueError(f"GaussianHead.squash must be 'tanh' or 'none', got {self.squash!r}")


class ValueHead(nn.Module):
    """A scalar state value V(s)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.squeeze(Dense(1, kernel_init=_VALUE_INIT)(x), -1)


class QHead(nn.Module):
    """Action values Q(s, .) [..., A], or C51 logits [..., A, num_atoms] (Bellemare et al. 2017).

    `dueling=True` splits the head into a state value and advantages, Q = V + A - mean_a A
    (Wang et al. 2016, arXiv:1511.06581); with atoms this is done per atom on the logits.
    """

    num_actions: int
    dueling: bool = False
    num_atoms: int | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        atoms = 1 if self.num_atoms is None else self.num_atoms
        shape = x.shape[:-1] + (self.num_actions, atoms)
        advantages = nn.Dense(self.num_actions * atoms, kernel_init=_VALUE_INIT)(x).reshape(shape)
        if self.dueling:
            value = nn.Dense(atoms, kernel_init=_VALUE_INIT)(x)[..., None, :]
            advantages = value + advantages - jnp.mean(advantages, axis=-2, keepdims=True)
        return advantages[..., 0] if self.num_atoms is None else advantages
