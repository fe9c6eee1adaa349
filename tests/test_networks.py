"""Network building blocks: the vmap-safe orthogonal initialiser, and `Dense` on both of its paths."""

import jax
import numpy as np
import pytest
from helpers import assert_trees_equal

from jaxrl.networks import initializers


@pytest.mark.parametrize("shape, scale", [((4, 64), np.sqrt(2.0)), ((64, 64), 1.0), ((64, 2), 0.01), ((3, 5, 7), 2.0)])
def test_orthogonal_draws_what_jax_draws(shape, scale):
    key = jax.random.key(3)
    ours = initializers.orthogonal(scale)(key, shape)
    np.testing.assert_array_equal(ours, jax.nn.initializers.orthogonal(scale)(key, shape))
    flat = np.reshape(np.asarray(ours, np.float64), (-1, shape[-1])) / scale
    small = min(flat.shape)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)


def test_orthogonal_under_nested_vmap_equals_one_draw_per_key():
    keys = jax.random.split(jax.random.key(0), (2, 3))
    batched = jax.jit(jax.vmap(jax.vmap(lambda k: initializers.orthogonal(1.0)(k, (8, 4)))))(keys)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(batched[i, j], jax.nn.initializers.orthogonal(1.0)(keys[i, j], (8, 4)))


def test_vmapped_orthogonal_runs_one_qr_per_matrix():
    # A batched LAPACK QR splits its batch over XLA:CPU's thread pool, which deadlocked two
    # devices' programs sharing that pool (tests/test_distributed.py runs that case).
    keys = jax.random.split(jax.random.key(0), 4)
    text = jax.jit(jax.vmap(lambda k: initializers.orthogonal(1.0)(k, (64, 64)))).lower(keys).as_text()
    qr_calls = [line for line in text.splitlines() if "geqrf" in line and "custom_call" in line]
    assert qr_calls
    assert all('num_batch_dims = "0"' in line for line in qr_calls), qr_calls


# --- dense: flax.linen.Dense's values and gradients, with row-major weight-gradient matmuls ---


def _flax_and_ours(features, x):
    import flax.linen as nn

    from jaxrl.networks.dense import Dense

    ref, ours = nn.Dense(features), Dense(features)
    params = ref.init(jax.random.key(1), x)
    # Non-zero bias so a dropped bias term would show.
    params = jax.tree.map(lambda p: p + 0.1, params)
    return ref, ours, params


# The CPU tricks forced on, forced off, and chosen by platform (on here: this is a CPU).
TRICKS = pytest.mark.parametrize("tricks_on", [True, False, None], ids=["tricks-on", "tricks-off", "by-platform"])


@TRICKS
@pytest.mark.parametrize("in_size, out_size, lead", [(4, 64, (128,)), (64, 64, (8, 16)), (64, 2, (128,)), (64, 1, (3,))])
def test_dense_matches_flax_dense_values_and_gradients(in_size, out_size, lead, tricks_on):
    import jax.numpy as jnp

    from jaxrl import tricks

    x = jax.random.normal(jax.random.key(0), lead + (in_size,))
    ref, ours, params = _flax_and_ours(out_size, x)
    cotangent = jax.random.normal(jax.random.key(2), lead + (out_size,))

    def loss(module):
        return lambda p, x: jnp.sum(jnp.tanh(module.apply(p, x)) * cotangent)

    want = jax.jit(jax.grad(loss(ref), argnums=(0, 1)))(params, x)
    with tricks.cpu_tricks(tricks_on):
        # The same parameter tree on every path, so params trained on one load on the other.
        assert_trees_equal(ours.init(jax.random.key(1), x), ref.init(jax.random.key(1), x))
        np.testing.assert_array_equal(ours.apply(params, x), ref.apply(params, x))
        np.testing.assert_array_equal(jax.jit(ours.apply)(params, x), ref.apply(params, x))
        got = jax.jit(jax.grad(loss(ours), argnums=(0, 1)))(params, x)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        assert g.shape == w.shape
        if tricks_on is False:
            # Off, `Dense` is flax's arithmetic, gradients and all.
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


def _exported_grad(platform, tricks_on):
    import jax.numpy as jnp

    from jaxrl import tricks

    x = jax.random.normal(jax.random.key(0), (128, 64))
    _, ours, params = _flax_and_ours(2, x)
    with tricks.cpu_tricks(tricks_on):
        grad = jax.jit(jax.grad(lambda p: jnp.sum(jnp.tanh(ours.apply(p, x)))))
        return jax.export.export(grad, platforms=[platform])(params).mlir_module()


@pytest.mark.parametrize("platform, tricks_on, barrier", [
    ("cpu", None, True), ("cuda", None, False), ("tpu", None, False),
    ("cuda", True, True), ("cpu", False, False),
])
def test_dense_path_follows_the_platform_compiled_for(platform, tricks_on, barrier):
    # By default the row-major weight gradient (behind its optimization barrier) is compiled for
    # CPU only; the override forces either path whatever the platform.
    assert ("optimization_barrier" in _exported_grad(platform, tricks_on)) == barrier


def test_dense_gradients_under_vmap_match_per_member_gradients():
    import jax.numpy as jnp

    x = jax.random.normal(jax.random.key(0), (3, 32, 64))
    _, ours, params = _flax_and_ours(64, x[0])
    stacked = jax.tree.map(lambda p: jnp.stack([p, 2 * p, -p]), params)
    grad = jax.grad(lambda p, x: jnp.sum(ours.apply(p, x) ** 2))
    batched = jax.jit(jax.vmap(grad))(stacked, x)
    for i in range(3):
        single = grad(jax.tree.map(lambda p: p[i], stacked), x[i])
        for b, s in zip(jax.tree.leaves(batched), jax.tree.leaves(single)):
            np.testing.assert_allclose(b[i], s, rtol=2e-5, atol=2e-5)


def test_dense_weight_gradient_is_a_row_major_matmul():
    # The point of `dense`: XLA must not fold the transpose back into a transposed-operand dot
    # (contracting the row axis of both operands), the slow form on CPU.
    import jax.numpy as jnp

    x = jax.random.normal(jax.random.key(0), (128, 64))
    _, ours, params = _flax_and_ours(64, x)
    grad = jax.jit(jax.grad(lambda p: jnp.sum(jnp.tanh(ours.apply(p, x)))))
    hlo = grad.lower(params).compile().as_text()
    dots = [line for line in hlo.splitlines() if " dot(" in line and "f32[65,64]" in line.split("=", 1)[1][:20]]
    assert dots, "no [in + 1, out] weight-gradient matmul in the compiled program"
    assert all("lhs_contracting_dims={1}" in line and "rhs_contracting_dims={0}" in line for line in dots), dots
