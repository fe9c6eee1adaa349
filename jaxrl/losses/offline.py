"""Losses of the offline and learning-from-demonstrations agents: the pieces each paper adds to an
online learner."""

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


def conservative_penalty(q_sampled: Array, q_data: Array, log_density: Array | float = 0.0,
                         temperature: Array | float = 1.0) -> Array:
    """CQL's regulariser, E_s[temperature * logsumexp_a (Q(s, a) - log mu(a|s)) / temperature) -
    Q(s, a_data)] (Kumar et al. 2020, "Conservative Q-Learning for Offline Reinforcement Learning",
    arXiv:2006.04779, eq. 4, CQL(H)): it pushes Q down on the actions the soft maximum finds and
    up on the dataset's, so Q is low wherever the data has no support.

    Args:
      q_sampled: [..., B, M] Q-values at M actions per state: every action of a discrete space
        (`log_density` 0: the exact logsumexp), or actions sampled from proposals of density
        mu, whose `log_density` [..., B, M] importance-weights the sum (the paper's appendix F).
      q_data: [..., B] Q-values at the dataset's actions.
    Returns the batch mean, summed over leading dimensions (an ensemble of critics).
    """
    chex.assert_equal_shape_prefix([q_sampled, q_data], q_data.ndim)
    soft_max = temperature * jax.nn.logsumexp((q_sampled - log_density) / temperature, axis=-1)
    return jnp.sum(jnp.mean(soft_max - q_data, axis=-1))


def crr_weights(advantage: Array, beta: Array | float, filter: str = "exp", max_weight: float = 20.0) -> Array:
    """CRR's filter f(A) of the advantage A = Q(s, a) - V(s), held constant in the gradient (Wang et
    al. 2020, "Critic Regularized Regression", arXiv:2006.15134, eq. 3): "exp" gives
    min(exp(A / beta), max_weight), "binary" gives 1[A > 0] (clone only the actions the critic
    finds better than the policy's own)."""
    if filter == "exp":
        weights = jnp.minimum(jnp.exp(advantage / beta), max_weight)
    elif filter == "binary":
        weights = (advantage > 0).astype(jnp.result_type(advantage))
    else:
        raise ValueError(f"crr_weights: filter must be 'exp' or 'binary', got {filter!r}")
    return jax.lax.stop_gradient(weights)


def ranking_loss(q: Array, action: Array, margin: Array | float) -> Array:
    """R-BVE's ranking regulariser, E_s[sum_{a != a_data} max(Q(s, a) - Q(s, a_data) + margin, 0)^2]
    (Gulcehre et al. 2021, "Regularized Behavior Value Estimation", arXiv:2103.09575, section 4):
    the dataset's action must rank above every other by `margin`. q [B, A], action [B] int."""
    chex.assert_rank([q, action], [2, 1])
    q_data = jnp.take_along_axis(q, action[:, None], axis=-1)
    others = jax.nn.one_hot(action, q.shape[-1]) == 0
    hinge = jnp.where(others, jnp.maximum(q - q_data + margin, 0.0), 0.0)
    return jnp.mean(jnp.sum(jnp.square(hinge), axis=-1))


def large_margin_loss(q: Array, action: Array, margin: Array | float, mask: Array) -> Array:
    """DQfD's supervised loss, max_a [Q(s, a) + l(a_E, a)] - Q(s, a_E) with l = `margin` for a !=
    a_E and 0 for a_E (Hester et al. 2018, "Deep Q-learning from Demonstrations", arXiv:1704.03732,
    eq. 2): the demonstrator's action must outvalue every other by the margin. Averaged over the
    rows where `mask` is True (the demonstrations'); 0 if there are none. q [B, A], action [B]."""
    chex.assert_rank([q, action, mask], [2, 1, 1])
    margins = jnp.where(jax.nn.one_hot(action, q.shape[-1]) > 0, 0.0, margin)
    per_row = jnp.max(q + margins, axis=-1) - jnp.take_along_axis(q, action[:, None], axis=-1)[:, 0]
    mask = mask.astype(q.dtype)
    return jnp.sum(mask * per_row) / jnp.maximum(jnp.sum(mask), 1.0)


__all__ = ["advantage_weights", "behaviour_cloning_mse", "conservative_penalty", "crr_weights", "expectile_loss",
           "large_margin_loss", "ranking_loss", "td3_bc_lambda"]
