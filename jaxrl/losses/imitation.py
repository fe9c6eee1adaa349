"""Losses and rewards of the imitation agents: adversarial imitation's discriminator and rewards
(GAIL, Ho & Ermon 2016; DAC, Kostrikov et al. 2019) and PWIL's greedy Wasserstein coupling
(Dadashi et al. 2021)."""

from __future__ import annotations

from typing import Callable

import chex
import jax
import jax.numpy as jnp

from jaxrl.types import Array, PRNGKey


def discriminator_loss(expert_logits: Array, policy_logits: Array, expert_weights: Array | None = None,
                       policy_weights: Array | None = None) -> Array:
    """The discriminator's binary cross-entropy, expert pairs labelled 1 and the agent's 0:
    -E_E[log D] - E_pi[log(1 - D)] with D = sigmoid(logits) (Ho & Ermon 2016, arXiv:1606.03476,
    eq. 17, the sign of D flipped so that D is the expert's probability); each expectation a
    weighted mean if weights are given (DAC's absorbing states, counted once per termination)."""
    chex.assert_rank([expert_logits, policy_logits], 1)

    def mean(x: Array, weights: Array | None) -> Array:
        return jnp.mean(x) if weights is None else jnp.sum(weights * x) / jnp.maximum(jnp.sum(weights), 1e-8)

    return mean(jax.nn.softplus(-expert_logits), expert_weights) + mean(jax.nn.softplus(policy_logits), policy_weights)


def gradient_penalty(logits: Callable[[Array], Array], expert: Array, policy: Array, key: PRNGKey,
                     target: float = 1.0) -> Array:
    """E[(||d logits / dx (x_hat)|| - target)^2] at x_hat = eps * expert + (1 - eps) * policy, eps ~
    U[0, 1] per pair (Gulrajani et al. 2017, arXiv:1704.00028; DAC's regulariser, Kostrikov et al.
    2019, arXiv:1809.02925): it keeps the discriminator smooth between the two distributions, so its
    rewards stay informative. expert, policy [B, D] inputs; `logits` maps [B, D] to [B]."""
    chex.assert_equal_shape([expert, policy])
    eps = jax.random.uniform(key, (expert.shape[0], 1))
    mixed = eps * expert + (1.0 - eps) * policy
    grads = jax.grad(lambda x: jnp.sum(logits(x)))(mixed)
    return jnp.mean(jnp.square(jnp.sqrt(jnp.sum(jnp.square(grads), axis=-1) + 1e-12) - target))


def adversarial_reward(logits: Array) -> Array:
    """log D - log(1 - D) = the discriminator's logit: AIRL's and DAC's reward (Fu et al. 2018;
    Kostrikov et al. 2019), neither a survival bonus (GAIL's -log(1 - D) > 0) nor a penalty for
    living (log D < 0), so episode ends bias nothing."""
    return logits


def gail_reward(logits: Array) -> Array:
    """-log(1 - D) = softplus(logit): GAIL's reward (Ho & Ermon 2016), positive everywhere, so it
    carries a bonus for surviving that suits tasks where the expert never ends an episode."""
    return jax.nn.softplus(logits)


def absorbing_bonus(absorbing_reward: Array, gamma: Array | float) -> Array:
    """The value gamma * r_abs / (1 - gamma) of staying forever in the absorbing state after a
    termination, with reward r_abs there: DAC's absorbing state (Kostrikov et al. 2019, section 4.2),
    folded into the terminal transition's reward so that the base agent's target (which does not
    bootstrap past a termination) sees it."""
    return gamma * absorbing_reward / (1.0 - gamma)


def greedy_coupling(atoms: Array, remaining: Array, atom: Array, weight: Array | float) -> tuple[Array, Array]:
    """One step of PWIL's greedy coupling (Dadashi et al. 2021, arXiv:2006.04678, Algorithm 1): the
    agent's `atom` [D] of mass `weight` moves onto the expert atoms [M, D] nearest to it (Euclidean
    distance), each taking up to its `remaining` [M] mass, until `weight` is spent. Returns the cost
    sum_j moved_j * ||atom - atoms_j|| and the expert masses left. Exact in one pass: atoms sorted by
    distance, each takes min(remaining_j, what is left of `weight` after the nearer ones), so atoms
    already used up take nothing. If the expert mass runs out first, the rest moves for free."""
    chex.assert_rank([atoms, remaining, atom], [2, 1, 1])
    distances = jnp.sqrt(jnp.sum(jnp.square(atoms - atom), axis=-1))
    order = jnp.argsort(distances)
    available = remaining[order]
    before = jnp.cumsum(available) - available
    moved = jnp.clip(weight - before, 0.0, available)
    return jnp.sum(moved * distances[order]), remaining.at[order].add(-moved)


def pwil_reward(cost: Array, scale: Array | float, bandwidth: Array | float, horizon: int, dimension: int) -> Array:
    """PWIL's reward alpha * exp(-beta * T / sqrt(d) * cost) of a step whose coupling cost is `cost`
    (Dadashi et al. 2021, eq. 5: alpha = `scale`, beta = `bandwidth`, T = `horizon` the episode's
    steps, d = `dimension` of a state-action atom): alpha where the agent is on the expert's atoms."""
    return scale * jnp.exp(-bandwidth * horizon / jnp.sqrt(float(dimension)) * cost)


__all__ = ["absorbing_bonus", "adversarial_reward", "discriminator_loss", "gail_reward", "gradient_penalty",
           "greedy_coupling", "pwil_reward"]
