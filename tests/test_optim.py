"""jaxrl.optim.clipped_adam against optax's clip_by_global_norm + scale_by_adam chain."""

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


@pytest.mark.parametrize("grad_scale", [0.01, 10.0])  # below and above the clipping norm
def test_clipped_adam_matches_the_optax_chain_over_many_steps(grad_scale):
    max_norm = 0.5
    ours = optim.clipped_adam(max_norm, eps=1e-5)
    ref = optax.chain(optax.clip_by_global_norm(max_norm), optax.scale_by_adam(eps=1e-5))
    params, _ = _params_and_grads(jax.random.key(0), grad_scale)
    ours_state, ref_state = ours.init(params), ref.init(params)
    for step in range(30):
        _, grads = _params_and_grads(jax.random.key(step + 1), grad_scale)
        ours_updates, ours_state = ours.update(grads, ours_state)
        ref_updates, ref_state = ref.update(grads, ref_state)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7), ours_updates, ref_updates)
    # Adam's normalised step: ~1 per coordinate while gradients are consistent, so the test is not vacuous.
    assert max(float(jnp.max(jnp.abs(u))) for u in jax.tree.leaves(ours_updates)) > 0.1
    np.testing.assert_allclose(ours_state.b1_power, 0.9**30, rtol=1e-6)
    np.testing.assert_allclose(ours_state.b2_power, 0.999**30, rtol=1e-6)


def test_clipped_adam_first_step_is_the_sign_of_the_clipped_gradient():
    # After one step mu_hat = g and nu_hat = g^2, so the update is g / (|g| + eps): ~sign(g).
    opt = optim.clipped_adam(1.0, eps=1e-8)
    params = {"w": jnp.zeros(4)}
    grads = {"w": jnp.array([3.0, -4.0, 0.0, 1e-3])}  # norm 5: clipped by 1/5
    updates, state = opt.update(grads, opt.init(params))
    np.testing.assert_allclose(updates["w"], [1.0, -1.0, 0.0, 1.0], atol=1e-4)
    np.testing.assert_allclose(state.mu["w"], 0.1 * np.array([0.6, -0.8, 0.0, 2e-4]), rtol=1e-6)
    np.testing.assert_allclose(state.nu["w"], 0.001 * np.array([0.36, 0.64, 0.0, 4e-8]), rtol=1e-5)
