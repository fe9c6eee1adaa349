"""PPO on both paths of `jaxrl.cpu_tricks`: the tricks on (what CPU runs by default) and off (what
GPU and TPU run), forced on this CPU. They train the same parameter tree to the same numbers up to
float summation order, and each path's chunked run equals one call bit for bit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal

import jaxrl
from jaxrl import tricks
from jaxrl.agents import builder, ppo

CONFIG = ppo.Config(env="CartPole-v1", num_envs=2, rollout_length=8, total_timesteps=64, num_epochs=1,
                    num_minibatches=2)
SEEDS = 2


def test_setting_nests_restores_and_rejects_bad_values():
    assert tricks.cpu_tricks_setting() is None
    with jaxrl.cpu_tricks(False):
        assert tricks.cpu_tricks_setting() is False
        with jaxrl.cpu_tricks(True):
            assert tricks.cpu_tricks_setting() is True
        assert tricks.cpu_tricks_setting() is False
    assert tricks.cpu_tricks_setting() is None
    try:
        jaxrl.set_cpu_tricks(True)
        assert tricks.cpu_tricks_setting() is True
    finally:
        jaxrl.set_cpu_tricks(None)
    with pytest.raises(ValueError, match="cpu_tricks takes True, False or None"):
        jaxrl.set_cpu_tricks("cpu")
    with pytest.raises(ValueError, match="got 1"):
        with jaxrl.cpu_tricks(1):
            pass
    assert tricks.cpu_tricks_setting() is None


@pytest.fixture(scope="module")
def one_calls():
    """`jax.jit(jax.vmap(train))` over 2 seeds with the tricks forced on and off, each traced
    inside its setting (which is read at trace time)."""
    keys = jax.random.split(jax.random.key(0), SEEDS)
    outs = {}
    for on in (True, False):
        with tricks.cpu_tricks(on):
            train = ppo.make_train(CONFIG)
            assert train.num_iterations == 4
            outs[on] = jax.jit(jax.vmap(train))(keys)
    return outs


@pytest.mark.parametrize("on", [True, False], ids=["tricks-on", "tricks-off"])
def test_chunked_run_is_bit_identical_to_one_call_on_each_path(one_calls, on):
    keys = jax.random.split(jax.random.key(0), SEEDS)
    with tricks.cpu_tricks(on):
        train = ppo.make_train(CONFIG)
        run = jax.jit(jax.vmap(lambda state: train.run(state, 2)))
        state = jax.jit(jax.vmap(train.init))(keys)
        state, first = run(state)
        state, second = run(state)
    assert_trees_equal(one_calls[on].state, state)
    assert_trees_equal(one_calls[on].metrics, jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=1), first, second))


def test_paths_train_the_same_params_to_float_tolerance(one_calls):
    on, off = one_calls[True], one_calls[False]
    # Same tree (names and shapes): a checkpoint from one path restores on the other.
    assert jax.tree.structure(on.state) == jax.tree.structure(off.state)
    for a, b in zip(jax.tree.leaves(on.state.agent_state.params), jax.tree.leaves(off.state.agent_state.params)):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The first iteration's rollout comes from identical params and identical key bits, so its
    # episode statistics agree exactly. Its update's first minibatch loss is exact too; then the
    # weight gradients differ in summation order, which may move later losses in the last bits.
    for name in ("env_steps", "episode_return", "episode_length"):
        np.testing.assert_array_equal(on.metrics[name][:, 0], off.metrics[name][:, 0], err_msg=name)
    # Later rollouts sample actions from logits that may differ in the last bits; a sampled action
    # flipping would make the runs diverge from that iteration on. With these seeds none flips.
    for name in sorted(on.metrics):
        np.testing.assert_allclose(on.metrics[name], off.metrics[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_params_from_one_path_give_the_same_policy_on_the_other(one_calls):
    # Forward values are the same arithmetic on both paths but for the order of the sums in the
    # first layer (4 inputs: multiply-adds on the CPU path, a matmul on the other), so they agree
    # to float rounding and give the same greedy actions.
    params = jax.tree.map(lambda p: p[0], one_calls[True].state.agent_state.params)
    network = ppo.make_network(builder.make_env(CONFIG).spec(), CONFIG.hidden_sizes, CONFIG.activation, None, None)
    observation = jax.random.normal(jax.random.key(1), (5, 4))
    outputs = {}
    for on in (True, False):
        with tricks.cpu_tricks(on):
            # A fresh function per setting: a jitted function keeps the path of its first trace.
            policy, value = jax.jit(lambda p, o: network.apply(p, o))(params, observation)
            outputs[on] = (policy.logits, value, policy.greedy_action())
    for on_cpu_path, elsewhere in zip(outputs[True][:2], outputs[False][:2]):
        np.testing.assert_allclose(on_cpu_path, elsewhere, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(outputs[True][2], outputs[False][2])
