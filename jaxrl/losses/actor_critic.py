"""Losses and targets of the off-policy actor-critic agents (DDPG, TD3, SAC, D4PG).

Thin over rlax where rlax has them: `rlax.dpg_loss` (Silver et al. 2014) and
`rlax.categorical_td_learning` (Bellemare et al. 2017). Batches lead every array ([B, ...]);
ensembles of critics lead that ([K, B]). `discount` is the whole bootstrap factor (gamma
already multiplied in, n-step or not); targets carry no gradient.
"""

from __future__ import annotations

import functools
from typing import Callable

import chex
import jax
import jax.numpy as jnp
import rlax

from jaxrl.types import Array, PRNGKey


def smoothed_target_actions(key: PRNGKey, next_action: Array, noise_scale: Array, noise_clip: Array) -> Array:
    """TD3's target policy smoothing: clip(mu'(s') + clip(eps, -c, c), -1, 1), eps ~ N(0, sigma^2)
    (Fujimoto et al. 2018, arXiv:1802.09477, eq. 15), for actions in [-1, 1]."""
    noise = noise_scale * jax.random.normal(key, next_action.shape, next_action.dtype)
    return jnp.clip(next_action + jnp.clip(noise, -noise_clip, noise_clip), -1.0, 1.0)


def clipped_double_q_targets(
    reward: Array,
    discount: Array,
    next_q: Array,
    next_log_prob: Array | None = None,
    temperature: Array | float = 0.0,
) -> Array:
    """r + discount * (min_k Q'_k(s', a') - temperature * log pi(a'|s')), [B].

    The minimum over an ensemble of target critics is TD3's clipped double Q-learning (Fujimoto
    et al. 2018); with `next_log_prob` it is SAC's soft target (Haarnoja et al. 2018,
    arXiv:1812.05905, eq. 3).

    Args:
      reward, discount: [B].
      next_q: [K, B], the target critics' values of (s', a').
      next_log_prob: [B] or None, log pi(a'|s') of the sampled next action a'.
      temperature: the entropy temperature alpha.
    """
    chex.assert_rank([reward, discount, next_q], [1, 1, 2])
    next_value = jnp.min(next_q, axis=0)
    if next_log_prob is not None:
        chex.assert_equal_shape([reward, next_log_prob])
        next_value = next_value - temperature * next_log_prob
    return jax.lax.stop_gradient(reward + discount * next_value)


def squared_td_loss(q: Array, targets: Array) -> Array:
    """Mean over the batch of (q - targets)^2 / 2, summed over critics: q [B] or [K, B], targets [B]."""
    chex.assert_rank(targets, 1)
    return jnp.sum(jnp.mean(rlax.l2_loss(q - jax.lax.stop_gradient(targets)), axis=-1))


def deterministic_policy_gradient_loss(action: Array, dqda: Array, dqda_clipping: float | None = None) -> Array:
    """The deterministic policy gradient loss (Silver et al. 2014), summed over action
    dimensions and averaged over the batch; its gradient is -E[dQ/da * da/dtheta].

    Args:
      action: [B, A], mu(s), differentiable in the actor's parameters.
      dqda: [B, A], dQ(s, a)/da at a = mu(s) (treated as a constant).
      dqda_clipping: clip dqda to this L2 norm per item (None: no clipping).
    """
    chex.assert_rank([action, dqda], 2)
    chex.assert_equal_shape([action, dqda])
    loss = jax.vmap(functools.partial(rlax.dpg_loss, dqda_clipping=dqda_clipping))(action, dqda)
    return jnp.mean(jnp.sum(loss, axis=-1))


def deterministic_policy_gradient(
    q_fn: Callable[[Array], Array], action: Array, dqda_clipping: float | None = None
) -> tuple[Array, Array]:
    """The DPG loss of a deterministic actor's actions under a critic, and the critic's values.

    Args:
      q_fn: a -> Q(s, a) [B], the critic at the batch's observations. Its parameters get no
        gradient from this loss; pass them through `jax.lax.stop_gradient` so that no
        second-order derivative is traced.
      action: [B, A], mu(s), differentiable in the actor's parameters.
      dqda_clipping: see `deterministic_policy_gradient_loss`.

    Returns:
      (loss, Q(s, mu(s)) [B]).
    """
    q, q_vjp = jax.vjp(q_fn, jax.lax.stop_gradient(action))
    (dqda,) = q_vjp(jnp.ones_like(q))  # each Q(s_i, a_i) depends on a_i alone
    return deterministic_policy_gradient_loss(action, dqda, dqda_clipping), q


def sac_actor_loss(q: Array, log_prob: Array, temperature: Array) -> Array:
    """E[alpha * log pi(a|s) - Q(s, a)] for reparameterised a ~ pi(.|s) (Haarnoja et al. 2018,
    arXiv:1812.05905, eq. 7): q [B] (the minimum over the critics), log_prob [B]."""
    chex.assert_equal_shape([q, log_prob])
    return jnp.mean(jax.lax.stop_gradient(temperature) * log_prob - q)


def sac_temperature_loss(log_temperature: Array, log_prob: Array, target_entropy: Array) -> Array:
    """E[alpha * (-log pi(a|s) - target_entropy)], alpha = exp(log_temperature) (Haarnoja et al.
    2018, arXiv:1812.05905, eq. 18): alpha falls while the entropy exceeds the target, rises while
    it is below. Only `log_temperature` receives gradient."""
    chex.assert_rank([log_temperature, log_prob], [0, 1])
    return jnp.exp(log_temperature) * jnp.mean(jax.lax.stop_gradient(-log_prob - target_entropy))


def categorical_td_losses(atoms: Array, logits: Array, reward: Array, discount: Array, next_logits: Array) -> Array:
    """Per-item cross-entropy between Z(s, a) and r + discount * Z'(s', a') projected onto `atoms`
    (Bellemare et al. 2017, arXiv:1707.06887; D4PG's critic loss, Barth-Maron et al. 2018), [B].

    Args:
      atoms: [N], the support, increasing.
      logits: [B, N], the critic's logits of Z(s, a).
      reward, discount: [B].
      next_logits: [B, N], the target critic's logits of Z(s', a').
    """
    chex.assert_rank([atoms, logits, reward, discount, next_logits], [1, 2, 1, 1, 2])
    chex.assert_equal_shape([logits, next_logits])
    loss = jax.vmap(rlax.categorical_td_learning, in_axes=(None, 0, 0, 0, None, 0))
    return loss(atoms, logits, reward, discount, atoms, next_logits)
