"""The loops' shared pieces: minibatch shuffling, a trajectory's values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import jaxpr_equations

from jaxrl.loops.on_policy import trajectory_values
from jaxrl.loops.shuffle import random_permutations, shuffled_minibatches


@pytest.mark.parametrize("size", [1, 7, 63, 64, 500, 512, 70_000])
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


@pytest.mark.parametrize("size", [512, 500])
def test_large_permutations_split_minibatches_like_a_uniform_shuffle(size):
    # From 64 elements the permutations are Feistel networks (with cycle walking for 500), not
    # uniform over all orders. What minibatch SGD sees must still look uniform: split each of
    # 4096 permutations into 4 minibatches; every pair of samples should share one with
    # probability (m - 1) / (size - 1), and every sample land in each minibatch 1/4 of the time.
    # (An 8-round network gives max |z| ~4.5 over the ~130k pairs and mean z^2 ~1.00, like a
    # sort; 3 rounds give 8.3 and 1.20, 2 rounds 9.3 and 7.4.)
    num, minibatches = 4096, 4
    m = size // minibatches
    perms = np.asarray(jax.jit(random_permutations, static_argnums=(1, 2))(jax.random.key(7), num, size))
    position = np.argsort(perms, axis=1)  # position[k, i]: where sample i sits in permutation k
    group = np.minimum(position // m, minibatches - 1)  # 500: 4 minibatches of 125
    onehot = (group[:, :, None] == np.arange(minibatches)).astype(np.float32)  # [num, size, 4]
    per_sample = onehot.transpose(1, 0, 2).reshape(size, num * minibatches)
    together = per_sample @ per_sample.T / num  # [size, size] rate of sharing a minibatch
    p = (m - 1) / (size - 1)
    z = (together - p) / np.sqrt(p * (1 - p) / num)
    z = z[~np.eye(size, dtype=bool)]
    assert np.abs(z).max() < 6.0, np.abs(z).max()
    assert 0.95 < np.mean(z**2) < 1.05, np.mean(z**2)
    counts = onehot.sum(0)  # [size, 4]
    chi2 = ((counts - num / minibatches) ** 2 / (num / minibatches)).sum(1)  # 3 dof per sample
    assert 2.7 < chi2.mean() < 3.3, chi2.mean()
    assert chi2.max() < 30.0, chi2.max()


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


def _values_fixture():
    # 6 steps of 3 envs, observations are [T, N, 2] with distinct rows. Env 0 is truncated at
    # t = 1 and t = 3 and terminated at t = 4; env 1 is truncated at t = 5 (the last step);
    # env 2 is truncated at t = 0, 2 and 4: 5 truncations before the last step, more than the
    # 3 rows one round of the loop evaluates.
    rollout_length, num_envs = 6, 3
    observation = jnp.arange(rollout_length * num_envs * 2, dtype=jnp.float32).reshape(rollout_length, num_envs, 2)
    next_observation = observation[1:]
    next_observation = jnp.concatenate([next_observation, 100.0 + observation[-1:]])
    last = np.zeros((rollout_length, num_envs), bool)
    discount = np.ones((rollout_length, num_envs), np.float32)
    for t, i, d in [(1, 0, 1.0), (3, 0, 1.0), (4, 0, 0.0), (5, 1, 1.0), (0, 2, 1.0), (2, 2, 1.0), (4, 2, 1.0)]:
        last[t, i], discount[t, i] = True, d
        # The true successor of an episode's last step is its final observation, not the reset one.
        next_observation = next_observation.at[t, i].set(-1.0 - observation[t, i])
    return observation, next_observation, jnp.asarray(last), jnp.asarray(discount)


def _value_fn(observation):
    # Exact in float32 for these inputs, so every way of batching the rows gives the same bits.
    return 3.0 * observation[:, 0] + observation[:, 1] ** 2


def test_trajectory_values_are_the_values_of_observations_and_true_successors():
    observation, next_observation, last, discount = _values_fixture()
    values, next_values = trajectory_values(_value_fn, observation, next_observation, last, discount)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    np.testing.assert_array_equal(values, _value_fn(flat(observation)).reshape(6, 3))
    expected = np.array(_value_fn(flat(next_observation)).reshape(6, 3))
    # After a termination V(s') is multiplied by a zero discount; it is left as V(s_{t+1}).
    expected[4, 0] = _value_fn(observation[5, 0][None])[0]
    np.testing.assert_array_equal(next_values, expected)


def test_trajectory_values_from_the_actors_values_evaluate_only_the_successors_it_never_saw():
    # PQN hands over max_a Q(s_t, a) from its actor: the result is the same, and value_fn sees only
    # the N final successors and the truncated ones (here: 3 + 6 rows, in 1 + 2 calls).
    observation, next_observation, last, discount = _values_fixture()
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    rows_seen = []

    def counting_value_fn(rows):
        rows_seen.append(rows.shape[0])
        return _value_fn(rows)

    given = _value_fn(flat(observation)).reshape(6, 3)
    values, next_values = trajectory_values(counting_value_fn, observation, next_observation, last, discount,
                                            values=given)
    expected = trajectory_values(_value_fn, observation, next_observation, last, discount)
    np.testing.assert_array_equal(values, expected[0])
    np.testing.assert_array_equal(next_values, expected[1])
    assert rows_seen == [3, 3]  # traced once each: the final successors, then one loop chunk
    with pytest.raises(AssertionError):
        trajectory_values(_value_fn, observation, next_observation, last, discount, values=given[:-1])


def test_trajectory_values_under_vmap_match_each_member():
    observation, next_observation, last, discount = _values_fixture()
    # Member 1 has no truncations: the loop runs for member 0 and must leave member 1 alone.
    batch = jax.tree.map(lambda x, y: jnp.stack([x, y]), (observation, next_observation, last, discount),
                         (observation + 0.5, next_observation + 0.5, jnp.zeros_like(last), discount))
    out = jax.jit(jax.vmap(lambda *a: trajectory_values(_value_fn, *a)))(*batch)
    for member in range(2):
        single = trajectory_values(_value_fn, *jax.tree.map(lambda x: x[member], batch))
        np.testing.assert_array_equal(out[0][member], single[0])
        np.testing.assert_array_equal(out[1][member], single[1])
    # Without truncations every successor is the next stored observation.
    no_trunc = _value_fn(jnp.concatenate([observation[1:], next_observation[-1:]]).reshape(-1, 2) + 0.5)
    np.testing.assert_array_equal(out[1][1], no_trunc.reshape(6, 3))


def test_trajectory_values_rejects_a_value_fn_with_the_wrong_shape():
    observation, next_observation, last, discount = _values_fixture()
    with pytest.raises(ValueError, match=r"value_fn must map \[B, ...\] observations to \[B\] values"):
        trajectory_values(lambda o: o, observation, next_observation, last, discount)


# ---- a vmapped population run in chunks (tricks.population_chunks) -----------------------------


def _member(x, shared, key):
    return {"y": jnp.tanh(x @ shared) + jax.random.uniform(key, x.shape[:1]), "n": jnp.sum(x)}


def _population(size, enabled):
    """`_member` over a population of `size` through `population_chunks(_member, 2)`, with the CPU
    tricks `enabled` or not: the chunked function, the inputs, the outputs and the vmapped jaxpr."""
    from jaxrl import tricks

    xs = jax.random.normal(jax.random.key(0), (size, 3, 4))
    shared = jax.random.normal(jax.random.key(1), (4,))
    keys = jax.random.split(jax.random.key(2), size)
    with tricks.cpu_tricks(enabled):
        chunked = tricks.population_chunks(_member, 2)
        out = jax.jit(jax.vmap(chunked, in_axes=(0, None, 0)))(xs, shared, keys)
        jaxpr = jax.make_jaxpr(jax.vmap(chunked, in_axes=(0, None, 0)))(xs, shared, keys).jaxpr
    return chunked, (xs, shared, keys), out, jaxpr


@pytest.mark.parametrize("enabled", [True, False])
def test_population_chunks_match_each_member_with_shared_arguments(enabled):
    chunked, (xs, shared, keys), out, jaxpr = _population(5, enabled)
    assert out["y"].shape == (5, 3) and out["n"].shape == (5,)
    for i in range(5):
        expected = jax.jit(_member)(xs[i], shared, keys[i])
        np.testing.assert_allclose(out["y"][i], expected["y"], rtol=1e-6)
        np.testing.assert_allclose(out["n"][i], expected["n"], rtol=1e-6)
    # The CPU path loops over chunks of 2 (2 + 2, then the remaining 1 vmapped); the plain one does not.
    assert ("scan" in str(jaxpr)) == enabled
    # Outside vmap it is the function itself.
    np.testing.assert_array_equal(chunked(xs[0], shared, keys[0])["y"], _member(xs[0], shared, keys[0])["y"])


def _shapes_of(primitive, jaxpr):
    """The input shapes of every `primitive` equation in `jaxpr`, nested jaxprs included."""
    return [tuple(v.aval.shape for v in eqn.invars) for eqn in jaxpr_equations(jaxpr)
            if eqn.primitive.name == primitive]


@pytest.mark.parametrize("enabled", [True, False])
def test_a_population_of_one_runs_the_member_without_a_batch_axis(enabled):
    # XLA:CPU compiles some ops with a leading batch axis of size 1 much slower than without it
    # (LayerNorm's backward pass ~6x), so on the CPU path vmap over one member runs the member's own
    # program on its arrays; the plain path keeps the batch axis.
    _, (xs, shared, keys), out, jaxpr = _population(1, enabled)
    assert _shapes_of("tanh", jaxpr) == ([((3,),)] if enabled else [((1, 3),)])
    expected = jax.jit(_member)(xs[0], shared, keys[0])
    assert out["y"].shape == (1, 3) and out["n"].shape == (1,)
    np.testing.assert_array_equal(out["y"][0], expected["y"])
    np.testing.assert_array_equal(out["n"][0], expected["n"])


def test_population_chunks_rejects_a_bad_chunk_size():
    from jaxrl import tricks

    with pytest.raises(ValueError, match="chunk_size must be an int >= 1, got 0"):
        tricks.population_chunks(_member, 0)


def test_a_population_larger_than_the_chunk_trains_in_chunks_and_in_time_chunks_equal_one_call(monkeypatch):
    # PPO's update runs 2 members at a time here, so 3 members take the chunked path (one
    # chunk of 2, then 1). Two time chunks must still equal one call bit for bit, and every
    # member must match the unchunked program's up to float summation order.
    from jaxrl import tricks
    from jaxrl.agents import ppo
    from jaxrl.loops import on_policy

    config = ppo.Config(env="CartPole-v1", total_timesteps=512, num_envs=4, rollout_length=32, num_epochs=1,
                        num_minibatches=2, hidden_sizes=(16,))
    keys = jax.random.split(jax.random.key(0), 3)
    with tricks.cpu_tricks(True):
        whole = jax.jit(jax.vmap(ppo.make_train(config)))(keys)
        monkeypatch.setattr(on_policy, "POPULATION_CHUNK", 2)
        train = ppo.make_train(config)
        one = jax.jit(jax.vmap(train))(keys)
        run = jax.jit(jax.vmap(lambda s: train.run(s, 2)))
        state, first = run(jax.jit(jax.vmap(train.init))(keys))
        state, second = run(state)
    for name, metric in one.metrics.items():
        np.testing.assert_array_equal(np.concatenate([first[name], second[name]], axis=1), metric, err_msg=name)
        np.testing.assert_allclose(metric, whole.metrics[name], rtol=1e-4, atol=1e-5, err_msg=name)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(one.state)):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(a, b)
    assert not np.all(one.metrics["total_loss"][:, -1] == one.metrics["total_loss"][:, -2])


# ---- the iteration loop ---------------------------------------------------------------------------


@pytest.mark.parametrize("num_iterations, inner", [(976, 122), (1953, 93), (400, 100), (256, 128), (16, 8),
                                                    (4, 4), (17, 17), (251, 251), (0, 0),
                                                    # no divisor from 8 to 128: trips of 128 and the rest
                                                    (262, 128), (1951, 128), (4882, 128)])
def test_inner_iterations_is_the_largest_divisor_from_8_to_128_leaving_two_trips(num_iterations, inner):
    from jaxrl.loops.common import inner_iterations

    assert inner_iterations(num_iterations) == inner


def _scan_lengths(train, state, num_iterations, nested=True):
    """The lengths of `train.run`'s scans: every one, outer first, or (`nested=False`) the top level's."""
    # A new function each call: a traced function keeps the CPU-tricks path of its first trace.
    jaxpr = jax.make_jaxpr(lambda s: train.run(s, num_iterations))(state).jaxpr
    equations = jaxpr_equations(jaxpr) if nested else jaxpr.eqns
    return [eqn.params["length"] for eqn in equations if eqn.primitive.name == "scan"]


@pytest.mark.parametrize("num_iterations, max_inner, inner, one_call, chunk", [
    (32, 128, 16, [2], [2]),  # trips of 16; two chunks of 16 as trips of 8
    (34, 8, 8, [4, 2], [2, 1]),  # no divisor: 4 trips of 8 and then 2; chunks of 17: 2 of 8 and then 1
])
def test_many_iterations_run_as_a_loop_of_loops_on_the_cpu_path_with_the_same_bits(
        monkeypatch, num_iterations, max_inner, inner, one_call, chunk):
    # The loops' lengths (top level, then the first trip's) on the CPU path, one loop otherwise;
    # every metric and the final state equal bit for bit to one loop, and two chunks to one call.
    from helpers import assert_trees_equal, chunks_and_one_call

    from jaxrl import tricks
    from jaxrl.agents import ppo
    from jaxrl.loops import common

    config = ppo.Config(env="CartPole-v1", total_timesteps=8 * num_iterations, num_envs=2, rollout_length=4,
                        num_epochs=1, num_minibatches=1, hidden_sizes=(8,))
    keys = jax.random.split(jax.random.key(0), 2)
    train = ppo.make_train(config)
    assert train.num_iterations == num_iterations
    state = jax.eval_shape(train.init, keys[0])

    def top_level_scans(n):
        return _scan_lengths(train, state, n, nested=False)

    monkeypatch.setattr(common, "MAX_INNER_ITERATIONS", max_inner)
    with tricks.cpu_tricks(True):
        assert top_level_scans(num_iterations) == one_call and top_level_scans(num_iterations // 2) == chunk
        assert _scan_lengths(train, state, num_iterations)[:2] == [one_call[0], inner]
        nested = chunks_and_one_call(train, keys)
    with tricks.cpu_tricks(False):
        assert top_level_scans(num_iterations) == [num_iterations]
    monkeypatch.setattr(common, "inner_iterations", lambda n: n)
    with tricks.cpu_tricks(True):
        assert top_level_scans(num_iterations) == [num_iterations]
        flat = jax.jit(jax.vmap(ppo.make_train(config)))(keys)
    assert_trees_equal(nested, flat)
    assert nested.metrics["env_steps"].shape == (2, num_iterations)
    assert not np.all(flat.metrics["total_loss"][:, -1] == flat.metrics["total_loss"][:, -2])
