"""Advantage estimators and lambda-returns."""

from __future__ import annotations

from typing import NamedTuple

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

    Returns:
      advantages with the shape of `rewards`; value targets are `advantages + values`.
    """
    chex.assert_equal_shape([rewards, discounts, values, next_values, last])
    deltas = rewards + discounts * next_values - values
    decays = discounts * lambda_ * (1.0 - last.astype(rewards.dtype))
    return _reverse_linear_recurrence(decays, deltas)


def lambda_returns(
    rewards: Array,
    discounts: Array,
    next_values: Array,
    lambda_: Array | float,
    last: Array,
) -> Array:
    """lambda-returns over a time-major batch, bootstrapped from the successors' values (Sutton &
    Barto 2018, sec. 12.1; Peng & Williams 1996's Q(lambda) when `next_values` is max_a Q(s'_t, a),
    as PQN uses them, Gallici et al. 2024, arXiv:2407.04811):

        G_t = r_t + discounts_t * ((1 - lambda) * v'_t + lambda * G_{t+1}),

    with the trace cut (G_t = r_t + discounts_t * v'_t) wherever `last_t` and at the final step.
    As in `generalized_advantage_estimation`, `next_values` holds the true successor's value, so a
    truncated step (discounts_t = gamma) bootstraps from the observation the episode ended on, and
    a terminal one (discounts_t = 0) from nothing. Equals `rlax.lambda_returns` on an uncut trajectory.

    Args:
      rewards, discounts, next_values, last: arrays of the same shape [T, ...]; `discounts` is gamma
        times the environment discount.
      lambda_: the trace-decay, a scalar.

    Returns:
      the returns, with the shape of `rewards`.
    """
    chex.assert_equal_shape([rewards, discounts, next_values, last])
    # lambda_t: lambda, but 0 where the trace is cut (an episode's end, the rollout's last step).
    keep = (1.0 - last.astype(rewards.dtype)).at[-1].set(0.0)
    trace = lambda_ * keep
    terms = rewards + discounts * (1.0 - trace) * next_values
    return _reverse_linear_recurrence(discounts * trace, terms)


class VTrace(NamedTuple):
    """`vtrace`'s outputs, each [T, ...]."""

    targets: Array  # v_t, the value targets
    pg_advantages: Array  # rho-bar_t (r_t + discounts_t * v'_t - V(s_t)), the policy gradient's weights


def vtrace(
    rewards: Array,
    discounts: Array,
    values: Array,
    next_values: Array,
    log_rhos: Array,
    last: Array,
    lambda_: Array | float = 1.0,
    clip_rho: Array | float = 1.0,
    clip_pg_rho: Array | float = 1.0,
) -> VTrace:
    """V-trace value targets and policy-gradient advantages (Espeholt et al. 2018, "IMPALA",
    arXiv:1802.01561, eq. 1 and sec. 4.2), with cutting a trace and bootstrapping kept apart.

    With rho_t = min(clip_rho, pi/mu), c_t = lambda * min(1, pi/mu) and
    delta_t = rho_t (r_t + discounts_t * V(s'_t) - V(s_t)):

        v_t - V(s_t) = delta_t + discounts_t * c_t * (v_{t+1} - V(s_{t+1})),

    with the correction after t dropped wherever `last_t` (the episode ended at t) and after the
    rollout's final step. `rlax.vtrace` reads one discount both to bootstrap and to cut, so a
    time-limit truncation there must either bootstrap from the next stored observation (the reset
    one) or not at all; here `next_values` holds the true successor's value V(s'_t) and
    `discounts_t` stays gamma at a truncation, so the truncated step bootstraps from the
    observation its episode ended on, and the trace is cut by `last` alone. Where no step is
    LAST, this equals `rlax.vtrace_td_error_and_advantage` given V(s_{t+1}) as its `v_t`.

    The policy-gradient advantage is min(clip_pg_rho, pi/mu) (r_t + discounts_t * v'_t - V(s_t)),
    with v'_t = V(s'_t) + lambda (v_{t+1} - V(s_{t+1})) where the trace goes on (rlax's
    lambda-mixed bootstrap) and v'_t = V(s'_t) where it is cut. On-policy (log_rhos = 0) with
    lambda = 1, `targets` are the n-step returns bootstrapped from the rollout's last successor.

    Args:
      rewards, discounts, values, next_values, log_rhos, last: arrays of the same shape [T, ...];
        `discounts` is gamma times the environment discount (0 on termination), `log_rhos` the
        log importance ratios log pi(a_t|s_t) - log mu(a_t|s_t).
      lambda_, clip_rho, clip_pg_rho: scalars (rlax's lambda_, clip_rho_threshold,
        clip_pg_rho_threshold).

    Returns:
      `VTrace(targets, pg_advantages)`, not differentiated through: both are targets.
    """
    chex.assert_equal_shape([rewards, discounts, values, next_values, log_rhos, last])
    rhos = jnp.exp(log_rhos)
    keep = 1.0 - last.astype(rewards.dtype)
    deltas = jnp.minimum(clip_rho, rhos) * (rewards + discounts * next_values - values)
    cs = lambda_ * jnp.minimum(1.0, rhos)
    corrections = _reverse_linear_recurrence(discounts * cs * keep, deltas)  # v_t - V(s_t)
    # v_{t+1} - V(s_{t+1}) for each t: the next step's correction, 0 after the rollout and where cut.
    later = jnp.concatenate([corrections[1:], jnp.zeros_like(corrections[:1])]) * keep
    next_targets = next_values + lambda_ * later
    pg_advantages = jnp.minimum(clip_pg_rho, rhos) * (rewards + discounts * next_targets - values)
    return jax.lax.stop_gradient(VTrace(values + corrections, pg_advantages))


def _reverse_linear_recurrence(decays: Array, terms: Array) -> Array:
    """x_t = terms_t + decays_t * x_{t+1} along axis 0, with x_T = 0.

    A first-order linear recurrence is an associative scan over (decay, term) pairs: log2(T)
    rounds of whole-array ops instead of T dependent steps of tiny ones (7 rounds for T = 128;
    ~10x faster on CPU than `lax.scan`). Each element, or run of elements, is an affine map
    x_start = term + decay * x_after; with reverse=True the scan hands `combine` the accumulated
    later run first.
    """

    def combine(later, earlier):
        decay_l, term_l = later
        decay_e, term_e = earlier
        return decay_e * decay_l, term_e + decay_e * term_l

    _, x = jax.lax.associative_scan(combine, (decays, terms), reverse=True)
    return x
