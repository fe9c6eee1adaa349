"""The loops' shared pieces: minibatch shuffling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.loops.common import random_permutations, shuffled_minibatches


@pytest.mark.parametrize("size", [1, 7, 512, 70_000])
def test_random_permutations_are_permutations(size):
    perms = np.asarray(random_permutations(jax.random.key(0), 3, size))
    assert perms.shape == (3, size) and perms.dtype == np.int32
    for row in perms:
        np.testing.assert_array_equal(np.sort(row), np.arange(size))
    if size > 7:
        # Independent draws differ from each other and from the identity.
        assert not np.array_equal(perms[0], perms[1])
        assert not np.array_equal(perms[0], np.arange(size))


def test_random_permutations_are_uniform():
    # Over 6000 permutations of 3 elements each of the 6 orders appears ~1000 times; the seed
    # is fixed, and the tolerance is ~5 standard deviations (sqrt(6000 * 1/6 * 5/6) ~ 29).
    perms = np.asarray(jax.jit(random_permutations, static_argnums=(1, 2))(jax.random.key(1), 6000, 3))
    _, counts = np.unique(perms, axis=0, return_counts=True)
    assert len(counts) == 6
    assert np.all(np.abs(counts - 1000) < 150), counts


def test_shuffled_minibatches_cover_each_sample_once_per_epoch():
    batch = {"x": jnp.arange(24.0).reshape(12, 2), "i": jnp.arange(12)}
    out = shuffled_minibatches(jax.random.key(2), batch, num_epochs=3, num_minibatches=4)
    assert out["x"].shape == (12, 3, 2) and out["i"].shape == (12, 3)
    # Leaves are gathered with the same indices.
    np.testing.assert_array_equal(out["x"][..., 0], 2.0 * out["i"])
    per_epoch = np.asarray(out["i"]).reshape(3, 12)
    for epoch in per_epoch:
        np.testing.assert_array_equal(np.sort(epoch), np.arange(12))
    assert not np.array_equal(per_epoch[0], per_epoch[1])


def test_shuffled_minibatches_rejects_a_batch_it_cannot_split():
    with pytest.raises(ValueError, match="num_minibatches=5 does not divide the batch size 12"):
        shuffled_minibatches(jax.random.key(0), jnp.zeros((12, 2)), 1, 5)
