"""Advantage estimators."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxrl.types import Array


def generalized_advantage_estimation(
    rewards: Array,
    discounts: Array,
    values: Array,
    next_values: Array,
    lambda_: Array | float,
    last: Array,
    unroll: int = 16,
) -> Array:
    """GAE(lambda) advantages over a time-major batch (Schulman et al. 2016, arXiv:1506.02438).

    delta_t = r_t + discounts_t * V(s'_t) - V(s_t),  A_t = delta_t + discounts_t * lambda * A_{t+1},
    with the trace cut (A_{t+1} dropped) wherever `last_t`, i.e. where the episode ended. Passing
    the true successor's value in `next_values` (rather than V(s_{t+1}) of the next stored step)
    makes time-limit truncations bootstrap correctly: there `discounts_t = gamma`, not 0.

    Args:
      rewards, discounts, values, next_values, last: arrays of the same shape [T, ...];
        `discounts` is gamma times the environment discount (0 on termination).
      lambda_: the GAE trace-decay, a scalar.
      unroll: `lax.scan` unroll factor; the recursion is a chain of tiny ops, so unrolling
        saves loop overhead.

    Returns:
      advantages with the shape of `rewards`; value targets are `advantages + values`.
    """
    chex.assert_equal_shape([rewards, discounts, values, next_values, last])
    deltas = rewards + discounts * next_values - values
    decays = discounts * lambda_ * (1.0 - last.astype(rewards.dtype))

    def backward(carry, inputs):
        delta, decay = inputs
        advantage = delta + decay * carry
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(deltas[0]), (deltas, decays), reverse=True, unroll=unroll
    )
    return advantages
