"""Test helpers: exact comparison of pytrees that may hold typed PRNG keys."""

import jax
import jax.numpy as jnp
import numpy as np


def _plain(x):
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(x))
    return np.asarray(x)


def assert_trees_equal(a, b, index=None):
    """Every leaf of `a` equals the leaf of `b` bit for bit (`b[index]` if `index` is given)."""
    leaves_a, tree_a = jax.tree.flatten(a)
    leaves_b, tree_b = jax.tree.flatten(b)
    assert tree_a == tree_b, f"tree structures differ:\n{tree_a}\n{tree_b}"
    for i, (x, y) in enumerate(zip(leaves_a, leaves_b)):
        x, y = _plain(x), _plain(y)
        if index is not None:
            y = y[index]
        np.testing.assert_array_equal(x, y, err_msg=f"leaf {i} of {tree_a} differs")
