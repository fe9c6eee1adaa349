"""Maximum a posteriori Policy Optimisation's losses (Abdolmaleki et al. 2018, arXiv:1806.06920;
with the decoupled mean and covariance constraints of "Relative Entropy Regularized Policy
Iteration", arXiv:1812.02256, as in Acme's MPO).

E-step: a non-parametric improved policy q(a|s) proportional to pi_target(a|s) exp(Q(s, a) / eta)
over N actions sampled per state, whose temperature eta is the minimiser of the dual
g(eta) = eta epsilon + eta mean_s log mean_j exp(Q(s, a_j) / eta), so that KL(q || pi_target) stays
near epsilon. M-step: the policy fits q by weighted maximum likelihood, under a KL bound to the
target policy; a Gaussian's mean and its standard deviation are fitted separately (each with the
other part held at the target's), each with its own bound and Lagrange multiplier alpha, learned by
minimising alpha (epsilon - KL). Dual variables are kept positive by softplus of a free parameter.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxrl.types import Array

# Added to softplus(parameter) so that a dual variable is never exactly 0 (a division by eta).
DUAL_FLOOR = 1e-8


def dual_variable(parameter: Array) -> Array:
    """softplus(parameter) + 1e-8: a positive temperature or Lagrange multiplier."""
    return jax.nn.softplus(parameter) + DUAL_FLOOR


def temperature_loss_and_weights(q_values: Array, temperature: Array, epsilon: Array | float) -> tuple[Array, Array]:
    """The E-step: the temperature's dual loss and the improved policy's weights per sample.

    loss = eta epsilon + eta mean_s [logsumexp_j(Q_js / eta) - log N]; weights = softmax_j(Q_js / eta),
    without gradient (the M-step fits them).

    Args:
      q_values: [N, B], Q(s_b, a_jb) of N actions sampled per state.
      temperature: eta > 0, a scalar.
      epsilon: the bound on KL(q || pi_target).

    Returns:
      (loss, weights [N, B]).
    """
    chex.assert_rank(q_values, 2)
    chex.assert_rank(temperature, 0)
    scaled = jax.lax.stop_gradient(q_values) / temperature
    log_num_samples = jnp.log(jnp.asarray(q_values.shape[0], q_values.dtype))
    log_normaliser = jax.nn.logsumexp(scaled, axis=0) - log_num_samples  # [B]
    loss = temperature * epsilon + temperature * jnp.mean(log_normaliser)
    weights = jax.lax.stop_gradient(jax.nn.softmax(scaled, axis=0))
    return loss, weights


def gaussian_kl(mean_p: Array, std_p: Array, mean_q: Array, std_q: Array) -> Array:
    """KL(N(mean_p, std_p^2) || N(mean_q, std_q^2)) per action dimension, [..., A]."""
    return (jnp.log(std_q / std_p) + (jnp.square(std_p) + jnp.square(mean_p - mean_q)) / (2.0 * jnp.square(std_q))
            - 0.5)


class DecoupledLosses(NamedTuple):
    """The M-step's parts (each a scalar; the KLs per action dimension [A], means over states)."""

    mean_loss: Array
    std_loss: Array
    kl_mean: Array
    kl_std: Array
    penalty: Array
    dual_loss: Array


def _log_prob(actions: Array, mean: Array, std: Array) -> Array:
    """log N(actions; mean, diag(std^2)) summed over the action axis: actions [N, B, A], mean/std [B, A]."""
    return jnp.sum(-0.5 * jnp.square((actions - mean) / std) - jnp.log(std) - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)


def decoupled_m_step(actions: Array, weights: Array, mean: Array, std: Array, target_mean: Array, target_std: Array,
                     alpha_mean: Array, alpha_std: Array, epsilon_mean: Array | float,
                     epsilon_std: Array | float) -> DecoupledLosses:
    """The M-step for a diagonal Gaussian policy with decoupled mean and std constraints.

    mean_loss = -mean_s sum_j w_js log N(a_js; mu(s), sigma_target(s)) and std_loss likewise with
    N(mu_target(s), sigma(s)); kl_mean = mean_s KL(pi_target || N(mu, sigma_target)) and kl_std =
    mean_s KL(pi_target || N(mu_target, sigma)), per action dimension (Acme's per-dimension
    constraints); penalty = sum_d (alpha_mean_d kl_mean_d + alpha_std_d kl_std_d) with the
    multipliers held fixed, and dual_loss = sum_d alpha_mean_d (epsilon_mean - kl_mean_d) + alpha_std_d
    (epsilon_std - kl_std_d) with the KLs held fixed: minimising it raises alpha where a KL exceeds
    its bound and lowers it where it does not.

    Args:
      actions: [N, B, A], the E-step's sampled actions; weights: [N, B].
      mean, std: [B, A], the online policy's; target_mean, target_std: [B, A], the target policy's.
      alpha_mean, alpha_std: [A] (or scalars), the Lagrange multipliers.
      epsilon_mean, epsilon_std: the KL bounds.
    """
    chex.assert_rank([actions, weights, mean, std], [3, 2, 2, 2])
    chex.assert_equal_shape([mean, std, target_mean, target_std])
    target_mean, target_std = jax.lax.stop_gradient(target_mean), jax.lax.stop_gradient(target_std)
    mean_loss = -jnp.mean(jnp.sum(weights * _log_prob(actions, mean, target_std), axis=0))
    std_loss = -jnp.mean(jnp.sum(weights * _log_prob(actions, target_mean, std), axis=0))
    kl_mean = jnp.mean(gaussian_kl(target_mean, target_std, mean, target_std), axis=0)
    kl_std = jnp.mean(gaussian_kl(target_mean, target_std, target_mean, std), axis=0)
    stop = jax.lax.stop_gradient
    penalty = jnp.sum(stop(alpha_mean) * kl_mean) + jnp.sum(stop(alpha_std) * kl_std)
    dual_loss = jnp.sum(alpha_mean * (epsilon_mean - stop(kl_mean))) + jnp.sum(alpha_std * (epsilon_std - stop(kl_std)))
    return DecoupledLosses(mean_loss, std_loss, kl_mean, kl_std, penalty, dual_loss)


__all__ = ["DUAL_FLOOR", "DecoupledLosses", "decoupled_m_step", "dual_variable", "gaussian_kl",
           "temperature_loss_and_weights"]
