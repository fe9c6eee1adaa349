"""Network building blocks: the vmap-safe orthogonal initialiser."""

import jax
import numpy as np
import pytest

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
