"""Losses of the offline agents: the pieces each paper adds to an online learner."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxrl.types import Array


def td3_bc_lambda(q: Array, alpha: Array | float) -> Array:
    """TD3+BC's weight of the Q term, lambda = alpha / mean|Q(s, pi(s))| over the batch, held
    constant in the gradient (Fujimoto & Gu 2021, "A Minimalist Approach to Offline Reinforcement
    Learning", arXiv:2106.06860, eq. 3): it normalises the Q term's scale against the BC term's."""
    chex.assert_rank(q, 1)
    return jax.lax.stop_gradient(alpha / jnp.mean(jnp.abs(q)))


def behaviour_cloning_mse(action: Array, dataset_action: Array) -> Array:
    """(pi(s) - a)^2 averaged over the batch and the action dimensions (TD3+BC's regulariser)."""
    chex.assert_equal_shape([action, dataset_action])
    return jnp.mean(jnp.square(action - dataset_action))


def expectile_loss(difference: Array, expectile: Array | float) -> Array:
    """|tau - 1(u < 0)| u^2 averaged over the batch, for u = Q(s, a) - V(s): the asymmetric squared
    loss whose minimiser V is the tau-expectile of Q(s, a) over the data's actions (Kostrikov et al.
    2021, "Offline Reinforcement Learning with Implicit Q-Learning", arXiv:2110.06169, eq. 5)."""
    weight = jnp.where(difference < 0, 1.0 - expectile, expectile)
    return jnp.mean(weight * jnp.square(difference))


def advantage_weights(advantage: Array, temperature: Array | float, max_weight: float = 100.0) -> Array:
    """exp(temperature * A) clipped at `max_weight`, held constant in the gradient: the weights of
    advantage-weighted regression as IQL extracts its policy (Kostrikov et al. 2021, eq. 7; Peng et al.
    2019, arXiv:1910.00177) and CRR's "exp" filter (Wang et al. 2020, arXiv:2006.15134)."""
    return jax.lax.stop_gradient(jnp.minimum(jnp.exp(temperature * advantage), max_weight))


__all__ = ["advantage_weights", "behaviour_cloning_mse", "expectile_loss", "td3_bc_lambda"]
