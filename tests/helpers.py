"""Test helpers: exact comparison of pytrees that may hold typed PRNG keys; the equations of a jaxpr;
registering a test environment once per process."""

import jax
import jax.extend.core
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


def chunks_and_one_call(train, keys, chunks=2):
    """`train` vmapped over `keys` as one call and in `chunks` equal chunks of `train.run`, checked
    equal bit for bit (every metric and the final state); returns the one call's output."""
    one = jax.jit(jax.vmap(train))(keys)
    state = jax.jit(jax.vmap(train.init))(keys)
    run = jax.jit(jax.vmap(lambda s: train.run(s, train.num_iterations // chunks)))
    parts = []
    for _ in range(chunks):
        state, metrics = run(state)
        parts.append(metrics)
    assert set(parts[0]) == set(one.metrics)
    for metric in one.metrics:
        np.testing.assert_array_equal(np.concatenate([p[metric] for p in parts], axis=1), one.metrics[metric],
                                      err_msg=metric)
    assert_trees_equal(state, one.state)
    return one


def jaxpr_equations(jaxpr):
    """Every equation of `jaxpr` and of every jaxpr nested in it (scan, cond, pjit...), outer first."""
    for eqn in jaxpr.eqns:
        yield eqn
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):  # jax.core's was removed in JAX 0.11
            yield from jaxpr_equations(sub)


def register_once(name, factory):
    """`jaxrl.register(name, factory)` unless this process registered `name` already (several test
    modules import the modules that define the tests' environments; `register` refuses a second call)."""
    import jaxrl

    try:
        jaxrl.register(name, factory)
    except ValueError as error:
        if "already registered" not in str(error):
            raise
