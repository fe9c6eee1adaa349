"""jaxrl.optim.adam against optax's clip_by_global_norm + scale_by_adam + scale(-lr) chain."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl import optim


def _params_and_grads(key, scale):
    k1, k2, k3 = jax.random.split(key, 3)
    params = {"w": jax.random.normal(k1, (5, 3)), "b": jnp.zeros(3), "head": {"w": jax.random.normal(k2, (3, 1))}}
    grads = jax.tree.map(lambda p, k: scale * jax.random.normal(k, p.shape),
                         params, jax.tree.unflatten(jax.tree.structure(params), list(jax.random.split(k3, 3))))
    return params, grads


@pytest.mark.parametrize("grad_scale,max_norm", [(0.01, 0.5), (10.0, 0.5), (10.0, None)])
def test_adam_matches_the_optax_chain_over_many_steps(grad_scale, max_norm):
    rate = 3e-3
    ours = optim.adam(rate, max_norm, eps=1e-5)
    clip = [] if max_norm is None else [optax.clip_by_global_norm(max_norm)]
    ref = optax.chain(*clip, optax.scale_by_adam(eps=1e-5), optax.scale(-rate))
    params, _ = _params_and_grads(jax.random.key(0), grad_scale)
    ours_state, ref_state = ours.init(params), ref.init(params)
    for step in range(30):
        _, grads = _params_and_grads(jax.random.key(step + 1), grad_scale)
        ours_updates, ours_state = ours.update(grads, ours_state)
        ref_updates, ref_state = ref.update(grads, ref_state)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-10), ours_updates, ref_updates)
    # Adam's normalised step: ~rate per coordinate while gradients are consistent, so the test is not vacuous.
    assert max(float(jnp.max(jnp.abs(u))) for u in jax.tree.leaves(ours_updates)) > 0.1 * rate
    assert int(ours_state.count) == 30
    np.testing.assert_allclose(ours_state.b1_power, 0.9**30, rtol=1e-6)
    np.testing.assert_allclose(ours_state.b2_power, 0.999**30, rtol=1e-6)


def test_adam_first_step_is_minus_rate_times_the_sign_of_the_clipped_gradient():
    # After one step mu_hat = g and nu_hat = g^2, so the update is -rate * g / (|g| + eps): ~-rate * sign(g).
    opt = optim.adam(0.5, 1.0, eps=1e-8)
    params = {"w": jnp.zeros(4)}
    grads = {"w": jnp.array([3.0, -4.0, 0.0, 1e-3])}  # norm 5: clipped by 1/5
    updates, state = opt.update(grads, opt.init(params))
    np.testing.assert_allclose(updates["w"], [-0.5, 0.5, 0.0, -0.5], atol=1e-4)
    np.testing.assert_allclose(state.mu["w"], 0.1 * np.array([0.6, -0.8, 0.0, 2e-4]), rtol=1e-6)
    np.testing.assert_allclose(state.nu["w"], 0.001 * np.array([0.36, 0.64, 0.0, 4e-8]), rtol=1e-5)
    new_params, _ = optim.step(opt, params, grads, opt.init(params))
    np.testing.assert_allclose(new_params["w"], updates["w"])


def test_adam_schedule_sees_the_steps_taken_before_each_step():
    seen = []
    opt = optim.adam(lambda count: (seen.append(count), 1.0 / (1.0 + count))[1])
    params = jnp.zeros(2)
    state = opt.init(params)
    grads = jnp.array([1.0, -1.0])
    rates = []
    for _ in range(3):
        updates, state = opt.update(grads, state)
        rates.append(float(-updates[0]))  # |step| = rate * ~1
    np.testing.assert_allclose(rates, [1.0, 0.5, 1.0 / 3.0], rtol=1e-4)  # float32 bias corrections
    assert [int(c) for c in seen] == [0, 1, 2]


def test_linear_anneal_falls_to_zero_in_steps_of_its_decrement():
    counts = jnp.arange(8, dtype=jnp.int32)
    # PQN: every step, 1 - t / 8; PPO: constant within each update of 2 steps, 1 - (t // 2) / 4.
    np.testing.assert_allclose(optim.linear_anneal(2.0, 8)(counts), 2.0 * (1.0 - np.arange(8) / 8), rtol=1e-6)
    np.testing.assert_allclose(optim.linear_anneal(2.0, 4, 2)(counts), 2.0 * (1.0 - np.arange(8) // 2 / 4),
                               rtol=1e-6)
