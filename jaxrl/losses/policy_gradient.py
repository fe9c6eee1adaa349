"""Policy-gradient and value losses, PPO's among them (Schulman et al. 2017, arXiv:1707.06347)."""

from __future__ import annotations

import chex
import jax.numpy as jnp
import rlax

from jaxrl.types import Array


def ppo_clipped_surrogate_loss(log_ratio: Array, advantages: Array, clip_eps: Array | float) -> Array:
    """PPO's clipped surrogate objective, as a loss to minimise (a scalar mean over the batch).

    L = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)),  r = pi(a|s) / pi_old(a|s).
    """
    chex.assert_equal_shape([log_ratio, advantages])
    return rlax.clipped_surrogate_pg_loss(jnp.exp(log_ratio), advantages, clip_eps, use_stop_gradient=False)


def clipped_value_loss(values: Array, old_values: Array, targets: Array, clip_eps: Array | float) -> Array:
    """PPO's clipped value loss: 0.5 * mean(max((v - R)^2, (v_old + clip(v - v_old, +-eps) - R)^2)).

    As in the OpenAI baselines implementation of PPO2; keeps the value function from moving
    far from the one that collected the data (Andrychowicz et al. 2021 study its effect).
    """
    chex.assert_equal_shape([values, old_values, targets])
    clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
    return 0.5 * jnp.mean(jnp.maximum(jnp.square(values - targets), jnp.square(clipped - targets)))


def value_loss(values: Array, targets: Array) -> Array:
    """Plain squared-error value loss: 0.5 * mean((v - R)^2)."""
    chex.assert_equal_shape([values, targets])
    return 0.5 * jnp.mean(jnp.square(values - targets))


def normalize_advantages(advantages: Array, epsilon: float = 1e-8) -> Array:
    """Zero-mean, unit-variance advantages over the (mini)batch."""
    return (advantages - advantages.mean()) / (advantages.std() + epsilon)
