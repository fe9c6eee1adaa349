"""Losses and advantage estimators against hand-computed values and rlax."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jaxrl import losses


def test_gae_hand_computed_with_truncation_and_termination():
    # One env, 4 steps, gamma 0.9, lambda 0.5. Step 2 is truncated (LAST, discount 1): it
    # bootstraps from the true final observation's value (10.0) and cuts the trace. Step 3
    # terminates (LAST, discount 0).
    rewards = jnp.array([[1.0], [2.0], [3.0], [4.0]])
    env_discounts = jnp.array([[1.0], [1.0], [1.0], [0.0]])
    last = jnp.array([[False], [False], [True], [True]])
    values = jnp.array([[0.5], [1.0], [1.5], [2.0]])
    next_values = jnp.array([[1.0], [1.5], [10.0], [3.0]])
    advantages = losses.generalized_advantage_estimation(
        rewards, 0.9 * env_discounts, values, next_values, 0.5, last
    )
    # deltas: 1 + .9 - .5 = 1.4; 2 + 1.35 - 1 = 2.35; 3 + 9 - 1.5 = 10.5; 4 - 2 = 2.
    # A3 = 2; A2 = 10.5 (cut); A1 = 2.35 + .45 * 10.5 = 7.075; A0 = 1.4 + .45 * 7.075 = 4.58375.
    np.testing.assert_allclose(advantages[:, 0], [4.58375, 7.075, 10.5, 2.0], rtol=1e-6)


def test_gae_matches_rlax_without_truncation():
    rng = np.random.default_rng(0)
    T, N = 17, 3
    rewards = rng.normal(size=(T, N)).astype(np.float32)
    env_discounts = (rng.uniform(size=(T, N)) > 0.2).astype(np.float32)  # terminations only
    values = rng.normal(size=(T + 1, N)).astype(np.float32)
    ours = losses.generalized_advantage_estimation(
        jnp.asarray(rewards), 0.97 * jnp.asarray(env_discounts), jnp.asarray(values[:-1]),
        jnp.asarray(values[1:]), 0.9, jnp.asarray(env_discounts == 0)
    )
    for n in range(N):
        reference = rlax.truncated_generalized_advantage_estimation(
            rewards[:, n], 0.97 * env_discounts[:, n], 0.9, values[:, n]
        )
        np.testing.assert_allclose(ours[:, n], reference, rtol=1e-5, atol=1e-5)


def test_gae_rejects_mismatched_shapes():
    with pytest.raises(AssertionError):
        losses.generalized_advantage_estimation(
            jnp.zeros((4, 2)), jnp.zeros((4, 2)), jnp.zeros((4, 2)), jnp.zeros((5, 2)), 0.9, jnp.zeros((4, 2))
        )


def test_lambda_returns_hand_computed_with_termination_and_truncation():
    # One env, 4 steps, gamma 0.5, lambda 0.5. Step 1 terminates (LAST, discount 0), step 2 is
    # truncated (LAST, discount 1: it bootstraps from its true successor's value, 30, and cuts the
    # trace), step 3 is the rollout's last (bootstrapped from 40, nothing after it).
    rewards = jnp.array([[1.0], [2.0], [3.0], [4.0]])
    env_discounts = jnp.array([[1.0], [0.0], [1.0], [1.0]])
    last = jnp.array([[False], [True], [True], [False]])
    next_values = jnp.array([[10.0], [20.0], [30.0], [40.0]])
    returns = losses.lambda_returns(rewards, 0.5 * env_discounts, next_values, 0.5, last)
    # G3 = 4 + .5 * 40 = 24; G2 = 3 + .5 * 30 = 18; G1 = 2; G0 = 1 + .5 * (.5 * 10 + .5 * 2) = 4.
    np.testing.assert_allclose(returns[:, 0], [4.0, 2.0, 18.0, 24.0], rtol=1e-6)
    # lambda 0: one-step targets r + gamma * d * v'; lambda 1: Monte Carlo within each episode.
    one_step = losses.lambda_returns(rewards, 0.5 * env_discounts, next_values, 0.0, last)
    np.testing.assert_allclose(one_step[:, 0], [6.0, 2.0, 18.0, 24.0], rtol=1e-6)
    monte_carlo = losses.lambda_returns(rewards, 0.5 * env_discounts, next_values, 1.0, last)
    np.testing.assert_allclose(monte_carlo[:, 0], [2.0, 2.0, 18.0, 24.0], rtol=1e-6)


def test_lambda_returns_match_rlax_without_cuts():
    rng = np.random.default_rng(1)
    T, N = 19, 3
    rewards = rng.normal(size=(T, N)).astype(np.float32)
    discounts = rng.uniform(0.5, 1.0, size=(T, N)).astype(np.float32)
    next_values = rng.normal(size=(T, N)).astype(np.float32)
    ours = losses.lambda_returns(jnp.asarray(rewards), jnp.asarray(discounts), jnp.asarray(next_values), 0.8,
                                 jnp.zeros((T, N), bool))
    for n in range(N):
        reference = rlax.lambda_returns(rewards[:, n], discounts[:, n], next_values[:, n], 0.8)
        np.testing.assert_allclose(ours[:, n], reference, rtol=1e-5, atol=1e-5)
    with pytest.raises(AssertionError):
        losses.lambda_returns(jnp.zeros((4, 2)), jnp.zeros((4, 2)), jnp.zeros((5, 2)), 0.9, jnp.zeros((4, 2)))


def test_vtrace_hand_computed_with_termination_and_truncation():
    # One env, 5 steps, gamma 0.5, lambda 1, both clips 1. Step 1 terminates (LAST, discount 0);
    # step 3 is truncated (LAST, discount gamma): it bootstraps from its true successor's value
    # (30), not the reset observation's, and cuts the trace; step 4 bootstraps from 40.
    rewards = jnp.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    discounts = 0.5 * jnp.array([[1.0], [0.0], [1.0], [1.0], [1.0]])
    last = jnp.array([[False], [True], [False], [True], [False]])
    values = jnp.array([[2.0], [4.0], [6.0], [8.0], [10.0]])
    next_values = jnp.array([[4.0], [6.0], [8.0], [30.0], [40.0]])
    log_rhos = jnp.log(jnp.array([[0.5], [2.0], [1.0], [0.25], [3.0]]))
    out = losses.vtrace(rewards, discounts, values, next_values, log_rhos, last)
    # rho = c = [.5, 1, 1, .25, 1]; deltas = rho (r + d V' - V) = [.5, -2, 1, 2.75, 15];
    # corrections A4 = 15, A3 = 2.75 (cut), A2 = 1 + .5 * 2.75 = 2.375, A1 = -2 (cut),
    # A0 = .5 + .5 * .5 * (-2) = 0; targets = V + A.
    np.testing.assert_allclose(out.targets[:, 0], [2.0, 2.0, 8.375, 10.75, 25.0], rtol=1e-6)
    # v'_t = V' + A_{t+1} where the trace goes on: [2, 6, 10.75, 30, 40];
    # pg = rho (r + d v' - V) = [.5 * 0, -2, 3 + 5.375 - 6, .25 * 11, 15].
    np.testing.assert_allclose(out.pg_advantages[:, 0], [0.0, -2.0, 2.375, 2.75, 15.0], rtol=1e-6)
    # rlax cuts and bootstraps with one discount: at the truncation it would bootstrap from the
    # next stored observation's value (10) and carry the next step's correction into step 3.
    reference = rlax.vtrace_td_error_and_advantage(values[:-1, 0], values[1:, 0], rewards[:-1, 0],
                                                   discounts[:-1, 0], jnp.exp(log_rhos[:-1, 0]))
    assert not np.allclose(reference.errors[3] + values[3, 0], out.targets[3, 0])


def test_vtrace_matches_rlax_where_no_episode_is_cut_short():
    # Terminations (discount 0) cut the trace in both; no truncations. rlax's v_t is V(s_{t+1})
    # of the next stored step, and the final successor's value for the last step.
    rng = np.random.default_rng(3)
    T, N = 17, 3
    rewards = rng.normal(size=(T, N)).astype(np.float32)
    env_discounts = (rng.uniform(size=(T, N)) > 0.15).astype(np.float32)
    discounts = 0.9 * env_discounts
    values = rng.normal(size=(T, N)).astype(np.float32)
    final = rng.normal(size=(1, N)).astype(np.float32)
    next_values = np.concatenate([values[1:], final])
    log_rhos = rng.normal(scale=0.7, size=(T, N)).astype(np.float32)
    last = env_discounts == 0
    out = losses.vtrace(*(jnp.asarray(x) for x in (rewards, discounts, values, next_values, log_rhos, last)),
                        lambda_=0.8, clip_rho=1.2, clip_pg_rho=0.9)
    for n in range(N):
        reference = rlax.vtrace_td_error_and_advantage(
            values[:, n], next_values[:, n], rewards[:, n], discounts[:, n], np.exp(log_rhos[:, n]),
            lambda_=0.8, clip_rho_threshold=1.2, clip_pg_rho_threshold=0.9)
        np.testing.assert_allclose(out.targets[:, n], reference.errors + values[:, n], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(out.pg_advantages[:, n], reference.pg_advantage, rtol=1e-5, atol=1e-5)


def test_vtrace_on_policy_is_the_n_step_return():
    # IMPALA with no policy lag: pi = mu, so with lambda 1 every target is the discounted sum of the
    # rollout's remaining rewards plus the bootstrap from its last successor (Espeholt et al. 2018,
    # remark 1), and the policy-gradient advantage is that return minus V(s_t).
    rng = np.random.default_rng(4)
    T, gamma = 6, 0.9
    rewards = rng.normal(size=(T, 1)).astype(np.float32)
    values = rng.normal(size=(T, 1)).astype(np.float32)
    next_values = np.concatenate([values[1:], [[2.5]]]).astype(np.float32)
    out = losses.vtrace(jnp.asarray(rewards), jnp.full((T, 1), gamma), jnp.asarray(values), jnp.asarray(next_values),
                        jnp.zeros((T, 1)), jnp.zeros((T, 1), bool))
    n_step = [sum(gamma ** (k - t) * rewards[k, 0] for k in range(t, T)) + gamma ** (T - t) * 2.5 for t in range(T)]
    np.testing.assert_allclose(out.targets[:, 0], n_step, rtol=1e-5)
    np.testing.assert_allclose(out.pg_advantages[:, 0], np.array(n_step) - values[:, 0], rtol=1e-5, atol=1e-5)


def test_ppo_clipped_surrogate_hand_computed():
    ratio = jnp.array([0.5, 1.0, 1.5])
    advantages = jnp.array([1.0, -1.0, 2.0])
    # min(rA, clip(r, .8, 1.2) A) = [min(.5, .8), -1, min(3, 2.4)] = [.5, -1, 2.4]
    loss = losses.ppo_clipped_surrogate_loss(jnp.log(ratio), advantages, 0.2)
    np.testing.assert_allclose(loss, -(0.5 - 1.0 + 2.4) / 3, rtol=1e-6)


def test_clipped_value_loss_hand_computed():
    values, old_values, targets = jnp.array([1.0, 2.0]), jnp.array([0.0, 1.9]), jnp.array([2.0, 1.0])
    # unclipped errors^2: [1, 1]; clipped values [0.2, 2.0] -> errors^2 [3.24, 1]; max: [3.24, 1]
    loss = losses.clipped_value_loss(values, old_values, targets, 0.2)
    np.testing.assert_allclose(loss, 0.5 * (3.24 + 1.0) / 2, rtol=1e-6)
    np.testing.assert_allclose(losses.value_loss(values, targets), 0.5 * (1.0 + 1.0) / 2, rtol=1e-6)


def test_normalize_advantages():
    advantages = losses.normalize_advantages(jnp.array([1.0, 2.0, 3.0, 6.0]))
    np.testing.assert_allclose(advantages.mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(advantages.std(), 1.0, rtol=1e-5)


def test_value_rescaling_by_hand_and_its_inverse_round_trips():
    eps = 1e-3
    x = jnp.array([-1e5, -300.0, -3.0, -0.5, 0.0, 1e-4, 0.5, 3.0, 300.0, 1e5], jnp.float32)
    # h(3) = sqrt(4) - 1 + 3 eps; h is odd.
    h = losses.value_rescaling(x, eps)
    np.testing.assert_allclose(h[7], 1.0 + 3 * eps, rtol=1e-6)
    np.testing.assert_array_equal(losses.value_rescaling(-x, eps), -h)
    np.testing.assert_allclose(h, np.sign(x) * (np.sqrt(np.abs(x) + 1) - 1) + eps * x, rtol=1e-5)
    # h^-1(h(x)) = x and h(h^-1(y)) = y, over returns of very different scales.
    np.testing.assert_allclose(losses.inverse_value_rescaling(h, eps), x, rtol=1e-5, atol=1e-6)
    # rlax's closed form, in float64, where its cancellation costs nothing.
    with jax.enable_x64(True):
        h64 = np.asarray(h, np.float64)
        np.testing.assert_allclose(losses.inverse_value_rescaling(jnp.asarray(h64), eps),
                                   rlax.signed_parabolic(jnp.asarray(h64), eps), rtol=1e-12, atol=1e-12)
    y = jnp.linspace(-50.0, 50.0, 101)
    np.testing.assert_allclose(losses.value_rescaling(losses.inverse_value_rescaling(y, eps), eps), y, rtol=1e-4,
                               atol=1e-4)
    # h squashes: a return of 1e5 becomes ~416 (sqrt plus the eps-linear term keeps it invertible).
    assert 400 < float(h[-1]) < 420
