"""Value-based TD errors and losses: (double) Q-learning, categorical (C51) Q-learning, R2D2's
value rescaling and sequence priorities.

Thin over rlax: `rlax.q_learning` / `rlax.double_q_learning` (Watkins 1989; van Hasselt et al.
2016, arXiv:1509.06461) and `rlax.categorical_q_learning` / `rlax.categorical_double_q_learning`
(Bellemare et al. 2017, arXiv:1707.06887), vmapped over a batch. `discount` is the whole
bootstrap factor (gamma already multiplied in, n-step or not); targets carry no gradient.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import rlax

from jaxrl.types import Array


def q_learning_td_errors(
    q: Array, action: Array, reward: Array, discount: Array, next_q_target: Array, next_q_online: Array | None
) -> Array:
    """TD errors r + discount * Q_target(s', a*) - Q(s, a), [B].

    a* = argmax Q_online(s', .) (double Q-learning) when `next_q_online` is given, else
    argmax Q_target(s', .) (Q-learning with a target network, Mnih et al. 2015).

    Args:
      q: [B, A], Q(s, .) of the online network.
      action: int [B], the actions taken.
      reward, discount: [B].
      next_q_target: [B, A], Q(s', .) of the target network.
      next_q_online: [B, A] or None, Q(s', .) of the online network (selects a*).
    """
    chex.assert_rank([q, action, reward, discount, next_q_target], [2, 1, 1, 1, 2])
    chex.assert_equal_shape([q, next_q_target])
    if next_q_online is None:
        return jax.vmap(rlax.q_learning)(q, action, reward, discount, next_q_target)
    chex.assert_equal_shape([q, next_q_online])
    return jax.vmap(rlax.double_q_learning)(q, action, reward, discount, next_q_target, next_q_online)


def categorical_q_learning_losses(
    atoms: Array,
    logits: Array,
    action: Array,
    reward: Array,
    discount: Array,
    next_logits_target: Array,
    next_q_online: Array | None,
) -> Array:
    """Per-transition cross-entropy of C51's projected target distribution, [B].

    The target distribution of r + discount * Z_target(s', a*) is projected onto `atoms`
    (Bellemare et al. 2017, Algorithm 1); a* = argmax of `next_q_online` (double) or of the
    target network's mean values.

    Args:
      atoms: [N], the support, increasing.
      logits: [B, A, N], the online network's logits at s.
      action: int [B]; reward, discount: [B].
      next_logits_target: [B, A, N], the target network's logits at s'.
      next_q_online: [B, A] or None, the online network's mean Q(s', .) (selects a*).
    """
    chex.assert_rank([atoms, logits, action, reward, discount, next_logits_target], [1, 3, 1, 1, 1, 3])
    chex.assert_equal_shape([logits, next_logits_target])
    if next_q_online is None:
        loss = jax.vmap(rlax.categorical_q_learning, in_axes=(None, 0, 0, 0, 0, None, 0))
        return loss(atoms, logits, action, reward, discount, atoms, next_logits_target)
    loss = jax.vmap(rlax.categorical_double_q_learning, in_axes=(None, 0, 0, 0, 0, None, 0, 0))
    return loss(atoms, logits, action, reward, discount, atoms, next_logits_target, next_q_online)


def huber(x: Array, delta: Array | float = 1.0) -> Array:
    """Huber's loss of `x`, elementwise: x^2 / 2 within +-delta, linear beyond (Huber 1964)."""
    return rlax.huber_loss(x, delta)


def categorical_mean(atoms: Array, logits: Array) -> Array:
    """The mean of the categorical distribution over `atoms` (last axis of `logits`)."""
    return jnp.sum(jax.nn.softmax(logits, axis=-1) * atoms, axis=-1)


def value_rescaling(x: Array, epsilon: float = 1e-3) -> Array:
    """h(x) = sign(x) (sqrt(|x| + 1) - 1) + epsilon x: squashes large returns so that one network
    fits values of very different scales (Pohlen et al. 2018, arXiv:1805.11593; R2D2). `rlax.signed_hyperbolic`."""
    return rlax.signed_hyperbolic(x, epsilon)


def inverse_value_rescaling(x: Array, epsilon: float = 1e-3) -> Array:
    """h^-1(x) = sign(x) (z^2 - 1) with z = (sqrt(1 + 4 eps (|x| + 1 + eps)) - 1) / (2 eps): targets
    bootstrap from h^-1(Q) and are mapped back through h.

    `rlax.signed_parabolic` computes z as written, a difference of two numbers near 1 / (2 eps) =
    500, which in float32 loses ~1e-4 of every value (h^-1(h(1e-4)) = 6e-5); z is computed here as
    2 (|x| + 1 + eps) / (sqrt(1 + 4 eps (|x| + 1 + eps)) + 1), the same number without the cancellation.
    """
    chex.assert_type(x, float)
    c = jnp.abs(x) + 1.0 + epsilon
    z = 2.0 * c / (jnp.sqrt(1.0 + 4.0 * epsilon * c) + 1.0)
    return jnp.sign(x) * (jnp.square(z) - 1.0)


def sequence_priorities(td_errors: Array, mask: Array, eta: Array | float) -> Array:
    """R2D2's priority of each sequence: eta * max_t |delta_t| + (1 - eta) * mean_t |delta_t| over
    the steps where `mask` holds (Kapturowski et al. 2019); [B].

    A large eta keeps a sequence with one large error from being averaged away by its many small
    ones, which a plain mean over long sequences would do.

    Args:
      td_errors: [T, B], time-major.
      mask: bool [T, B]; steps that count (every sequence needs at least one).
      eta: the mixture weight in [0, 1].
    """
    chex.assert_rank([td_errors, mask], 2)
    chex.assert_equal_shape([td_errors, mask])
    magnitude = jnp.where(mask, jnp.abs(td_errors), 0.0)
    count = jnp.maximum(jnp.sum(mask, axis=0), 1)
    return eta * jnp.max(magnitude, axis=0) + (1.0 - eta) * jnp.sum(magnitude, axis=0) / count
