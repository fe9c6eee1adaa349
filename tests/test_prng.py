"""jaxrl.prng: fast-hash keys draw exactly what JAX's default threefry keys draw."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import prng, tricks
from jaxrl.agents import ppo

DRAWS = {
    "split": lambda k: jax.random.key_data(jax.random.split(k, 5)),
    "split_2d": lambda k: jax.random.key_data(jax.random.split(k, (2, 3))),
    "fold_in": lambda k: jax.random.key_data(jax.random.fold_in(k, 123456)),
    "bits8": lambda k: jax.random.bits(k, (7,), jnp.uint8),
    "bits16": lambda k: jax.random.bits(k, (3, 3), jnp.uint16),
    "bits32": lambda k: jax.random.bits(k, (9,), jnp.uint32),
    "uniform": lambda k: jax.random.uniform(k, (4, 5), minval=-0.05, maxval=0.05),
    "normal": lambda k: jax.random.normal(k, (11,)),
    "categorical": lambda k: jax.random.categorical(k, jnp.log(jnp.array([[0.2, 0.3, 0.5]] * 6))),
    "randint": lambda k: jax.random.randint(k, (8,), 0, 1000),
    "permutation": lambda k: jax.random.permutation(k, 17),
}


@pytest.mark.parametrize("tricks_on", [True, None], ids=["unrolled-everywhere", "by-platform"])
@pytest.mark.parametrize("name", sorted(DRAWS))
def test_fast_key_draws_the_same_bits(name, tricks_on):
    draw = DRAWS[name]
    keys = jax.random.split(jax.random.key(42), 3)
    with tricks.cpu_tricks(tricks_on):
        impl = prng.FAST_THREEFRY if tricks_on else prng.FAST_THREEFRY_ON_CPU
        assert str(jax.random.key_impl(prng.fast_key(keys))) == str(impl)
        for key in keys:
            np.testing.assert_array_equal(jax.jit(draw)(prng.fast_key(key)), jax.jit(draw)(key))
        # vmapped over a batch of keys too, as inside a population
        np.testing.assert_array_equal(jax.vmap(draw)(prng.fast_key(keys)), jax.vmap(draw)(keys))


def _program(key, platform: str = "cpu") -> str:
    """A uniform draw from `key`, lowered for `platform` whatever the machine's default one (on the
    CPU JAX's rolled threefry loop is a `while`; on a GPU JAX hashes in a kernel of its own)."""
    return jax.export.export(jax.jit(lambda k: jax.random.uniform(k, (4,))), platforms=[platform])(key).mlir_module()


def test_fast_key_with_the_tricks_off_is_the_key_itself():
    key, raw = jax.random.key(3), jax.random.PRNGKey(3)
    with tricks.cpu_tricks(False):
        assert prng.fast_key(key) is key and prng.fast_key(raw) is raw
        assert "while" in _program(prng.fast_key(key))
        np.testing.assert_array_equal(jax.random.key_data(prng.split(key, 3)),
                                      jax.random.key_data(jax.random.split(key, 3)))


@pytest.mark.parametrize("platform, tricks_on, jax_hash", [
    ("cpu", None, False), ("cuda", None, True), ("tpu", None, True), ("cuda", True, False),
])
def test_fast_key_hash_follows_the_platform_compiled_for(platform, tricks_on, jax_hash):
    # By default the unrolled hash is compiled for CPU only; elsewhere JAX's own lowering runs,
    # which emits its hash as a function named threefry2x32. cpu_tricks(True) unrolls it everywhere.
    with tricks.cpu_tricks(tricks_on):
        text = _program(prng.fast_key(jax.random.key(0)), platform)
    assert ("call @threefry2x32" in text) == jax_hash
    assert "while" not in text


def test_fast_key_hash_is_unrolled_and_other_keys_pass_through():
    key = jax.random.key(0)
    fast = prng.fast_key(key)
    assert "while" in _program(key)
    assert "while" not in _program(fast)
    np.testing.assert_array_equal(jax.random.key_data(fast), jax.random.key_data(key))
    # raw uint32 keys are rewrapped; keys of another implementation are left alone
    raw = jax.random.PRNGKey(0)
    np.testing.assert_array_equal(jax.random.key_data(prng.fast_key(raw)), raw)
    rbg = jax.random.key(0, impl="rbg")
    assert prng.fast_key(rbg) is rbg


def test_ppo_run_is_unchanged_by_fast_keys(monkeypatch):
    # The same train with the loops' fast keys switched off gives bit-identical results.
    config = ppo.Config(env="CartPole-v1", num_envs=2, rollout_length=8, total_timesteps=64, num_epochs=1,
                        num_minibatches=2, hidden_sizes=(16,))
    fast = jax.jit(ppo.make_train(config))(jax.random.key(5))
    monkeypatch.setattr(prng, "fast_key", lambda key: key)
    plain = jax.jit(ppo.make_train(config))(jax.random.key(5))
    for a, b in zip(jax.tree.leaves(fast.metrics), jax.tree.leaves(plain.metrics)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(fast.state.agent_state), jax.tree.leaves(plain.state.agent_state)):
        np.testing.assert_array_equal(a, b)


def test_split_keeps_the_key_type_and_the_bits():
    typed = jax.random.key(9)
    ours = prng.split(typed, 3)
    assert ours.dtype == typed.dtype and ours.shape == (3,)
    np.testing.assert_array_equal(jax.random.key_data(ours), jax.random.key_data(jax.random.split(typed, 3)))
    raw = jax.random.PRNGKey(9)
    np.testing.assert_array_equal(prng.split(raw, 3), jax.random.split(raw, 3))
    rbg = jax.random.key(0, impl="rbg")
    np.testing.assert_array_equal(jax.random.key_data(prng.split(rbg, 2)),
                                  jax.random.key_data(jax.random.split(rbg, 2)))
