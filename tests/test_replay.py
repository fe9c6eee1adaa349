"""Replay buffers and n-step transitions: exact contents, sampling laws, errors, jit and vmap."""

import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxrl import replay
from jaxrl.types import Transition

EXAMPLE = {"obs": jnp.zeros(3, jnp.float32), "count": jnp.zeros((), jnp.int32)}


def items(start, num):
    """`num` items numbered from `start`: count = i, obs = [i, 2i, 3i]."""
    count = start + jnp.arange(num, dtype=jnp.int32)
    return {"obs": count[:, None].astype(jnp.float32) * jnp.array([1.0, 2.0, 3.0]), "count": count}


@functools.cache
def jitted(buffer):
    """The buffer with its functions jitted once per buffer (buffers are cached below)."""
    jit = lambda f: None if f is None else jax.jit(f)  # noqa: E731
    return buffer._replace(**{name: jit(f) for name, f in buffer._asdict().items() if name != "init"})


@functools.cache
def uniform(capacity, batch_size, min_size=None):
    return jitted(replay.uniform(capacity, batch_size, min_size))


@functools.cache
def prioritized(capacity, batch_size, alpha=0.6, beta=0.4, min_size=None):
    return jitted(replay.prioritized(capacity, batch_size, alpha=alpha, beta=beta, min_size=min_size))


def stored_counts(state):
    """The `count` of every stored item, oldest first."""
    capacity = state.data["count"].shape[0]
    rows = (int(state.insert_position) - int(state.size) + np.arange(int(state.size))) % capacity
    return np.asarray(state.data["count"])[rows].tolist()


# Uniform ---------------------------------------------------------------------------------


def test_uniform_add_and_sample_a_nested_item():
    buf = uniform(8, 4)
    state = buf.add(buf.init(EXAMPLE), items(10, 5))
    batch, info = buf.sample(state, jax.random.key(0))
    assert batch["obs"].shape == (4, 3) and batch["obs"].dtype == jnp.float32
    assert batch["count"].shape == (4,) and batch["count"].dtype == jnp.int32
    assert info.indices.dtype == jnp.int32 and info.weights.dtype == jnp.float32
    np.testing.assert_array_equal(info.weights, np.ones(4))
    # Each sampled item is the one stored at its index, and whole (obs matches count).
    np.testing.assert_array_equal(batch["count"], 10 + info.indices)
    np.testing.assert_array_equal(batch["obs"], batch["count"][:, None] * np.array([1.0, 2.0, 3.0]))


def test_uniform_wraps_around():
    buf = uniform(8, 4)
    state = buf.add(buf.init(EXAMPLE), items(0, 7))
    state = buf.add(state, items(7, 5))
    # Items 7..11 go to rows 7, 0, 1, 2, 3: the oldest four (0..3) are overwritten.
    np.testing.assert_array_equal(state.data["count"], [8, 9, 10, 11, 4, 5, 6, 7])
    np.testing.assert_array_equal(state.data["obs"][:, 1], 2.0 * np.array([8, 9, 10, 11, 4, 5, 6, 7]))
    assert int(state.insert_position) == 4 and int(state.size) == 8
    assert stored_counts(state) == list(range(4, 12))


def test_uniform_can_sample_once_min_size_items_are_stored():
    buf = uniform(8, 4, min_size=3)
    state = buf.init(EXAMPLE)
    assert not buf.can_sample(state)
    state = buf.add(state, items(0, 2))
    assert not buf.can_sample(state)
    state = buf.add(state, items(2, 1))
    assert buf.can_sample(state)
    # By default, min_size is the batch size.
    default = uniform(8, 4)
    assert not default.can_sample(default.add(default.init(EXAMPLE), items(0, 3)))
    assert default.can_sample(default.add(default.init(EXAMPLE), items(0, 4)))


def test_uniform_samples_only_the_filled_rows_and_all_of_them():
    buf = uniform(100, 2000, min_size=1)
    state = buf.add(buf.init(EXAMPLE), items(0, 5))
    batch, info = buf.sample(state, jax.random.key(1))
    assert set(np.asarray(info.indices).tolist()) == {0, 1, 2, 3, 4}
    assert set(np.asarray(batch["count"]).tolist()) == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("make", [lambda: replay.uniform(8, 4), lambda: replay.prioritized(8, 4)],
                         ids=["uniform", "prioritized"])
def test_a_vmapped_population_matches_its_members(make):
    buf = make()
    population = 3
    states = jax.vmap(lambda _: buf.init(EXAMPLE))(jnp.arange(population))
    added = jax.vmap(lambda i: items(10 * i, 5))(jnp.arange(population))
    keys = jax.random.split(jax.random.key(2), population)
    states = jax.jit(jax.vmap(buf.add))(states, added)
    if buf.update_priorities is not None:
        priorities = jnp.arange(population * 2, dtype=jnp.float32).reshape(population, 2)
        update = jax.vmap(buf.update_priorities)
        states = jax.jit(update)(states, jnp.array([[0, 3]] * population), priorities)
    samples = jax.jit(jax.vmap(buf.sample))(states, keys)
    for i in range(population):
        state = buf.add(buf.init(EXAMPLE), items(10 * i, 5))
        if buf.update_priorities is not None:
            state = buf.update_priorities(state, jnp.array([0, 3]), priorities[i])
        assert_trees_equal(state, states, index=i)
        assert_trees_equal(buf.sample(state, keys[i]), samples, index=i)
    # Each member samples its own items.
    counts = np.asarray(samples[0]["count"])
    first = 10 * np.arange(population)[:, None]
    assert ((counts >= first) & (counts < first + 5)).all()


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.sampled_from([1, 4, 5]),
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=12),
)
def test_uniform_keeps_exactly_the_last_capacity_items(capacity, sizes):
    buf = uniform(capacity, 1)
    state = buf.init(EXAMPLE)
    model = collections.deque(maxlen=capacity)
    added = 0
    for size in sizes:
        size = min(size, capacity)
        state = buf.add(state, items(added, size))
        model.extend(range(added, added + size))
        added += size
        assert int(state.size) == len(model)
        assert int(state.insert_position) == added % capacity
        assert stored_counts(state) == list(model)


# Errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: replay.uniform(0, 4, min_size=0), "capacity"),
        (lambda: replay.uniform(2.5, 1), "capacity"),
        (lambda: replay.uniform(8, 0), "batch_size"),
        (lambda: replay.uniform(8, 4, min_size=9), "min_size"),
        (lambda: replay.uniform(8, 16), "batch_size"),
        (lambda: replay.prioritized(0, 4), "capacity"),
        (lambda: replay.prioritized(8, 4, alpha=-0.1), "alpha"),
        (lambda: replay.prioritized(8, 4, beta=1.5), "beta"),
        (lambda: replay.prioritized(8, 4, beta=-0.1), "beta"),
        (lambda: replay.prioritized(8, 4, epsilon=-1.0), "epsilon"),
        (lambda: replay.prioritized(8, 4, alpha=float("nan")), "alpha"),
        (lambda: replay.prioritized(8, 4).sample(None, None, beta=2.0), "beta"),
        (lambda: replay.sequence(10, 0, 4), "sequence_length"),
        (lambda: replay.sequence(10, 4, 0), "batch_size"),
        (lambda: replay.sequence(10, 4, 4, period=0), "period"),
        (lambda: replay.sequence(6, 4, 4), "capacity"),  # needs >= 4 + 4 - 1
        (lambda: replay.n_step.init(EXAMPLE, 2, 0), "n"),
        (lambda: replay.n_step.init(EXAMPLE, 0, 3), "num_envs"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(make, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        make()


@pytest.mark.parametrize("make", [lambda: replay.uniform(4, 2), lambda: replay.prioritized(4, 2)],
                         ids=["uniform", "prioritized"])
def test_add_rejects_items_that_do_not_fit(make):
    buf = make()
    state = buf.init(EXAMPLE)
    add = jax.jit(buf.add)  # the checks run at trace time
    with pytest.raises(ValueError, match="capacity 4"):
        add(state, items(0, 5))
    with pytest.raises(ValueError, match="structure"):
        add(state, {"obs": jnp.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"items\['obs'\] has shape \(2, 4\)"):
        add(state, {"obs": jnp.zeros((2, 4)), "count": jnp.zeros(2, jnp.int32)})
    with pytest.raises(ValueError, match=r"items\['count'\] has dtype float32"):
        add(state, {"obs": jnp.zeros((2, 3)), "count": jnp.zeros(2, jnp.float32)})
    with pytest.raises(ValueError, match="leading shape"):
        add(state, {"obs": jnp.zeros((2, 3)), "count": jnp.zeros(3, jnp.int32)})


# Prioritized -----------------------------------------------------------------------------


def leaves(state, capacity):
    """The stored p^alpha of rows 0..capacity-1."""
    num_leaves = state.sum_tree.shape[0] // 2
    return np.asarray(state.sum_tree[num_leaves:num_leaves + capacity])


def assert_trees_consistent(state, capacity):
    """Every internal node is exactly (in float32) the sum / min of its two children."""
    sums, mins = np.asarray(state.sum_tree), np.asarray(state.min_tree)
    num_leaves = sums.shape[0] // 2
    np.testing.assert_array_equal(sums[1:num_leaves], sums[2::2] + sums[3::2])
    np.testing.assert_array_equal(mins[1:num_leaves], np.minimum(mins[2::2], mins[3::2]))
    np.testing.assert_array_equal(sums[num_leaves + capacity:], 0.0)  # padding
    np.testing.assert_array_equal(mins[num_leaves:], np.where(sums[num_leaves:] > 0, sums[num_leaves:], np.inf))
    np.testing.assert_allclose(sums[1], sums[num_leaves:].astype(np.float64).sum(), rtol=1e-6)


def sampling_frequencies(buf, state, num_calls=50_000):
    keys = jax.random.split(jax.random.key(3), num_calls)
    _, info = sample_many(buf)(state, keys)
    return np.bincount(np.asarray(info.indices).ravel(), minlength=8) / info.indices.size


@functools.cache
def sample_many(buf):
    return jax.jit(jax.vmap(buf.sample, in_axes=(None, 0)))


def test_prioritized_samples_in_proportion_to_priority_to_the_alpha():
    # 8 items, distinct priorities; 50,000 stratified batches of 4 = 200,000 samples. The
    # standard error of each frequency is below 0.001; the tolerance is 0.005.
    buf = prioritized(8, 4, alpha=0.6)
    state = buf.add(buf.init(EXAMPLE), items(0, 8))
    np.testing.assert_allclose(sampling_frequencies(buf, state), 1 / 8, atol=0.005)  # all at max
    priorities = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], np.float32)
    state = buf.update_priorities(state, jnp.arange(8), jnp.asarray(priorities))
    expected = (priorities + 1e-6) ** 0.6 / ((priorities + 1e-6) ** 0.6).sum()
    np.testing.assert_allclose(sampling_frequencies(buf, state), expected, atol=0.005)
    # New priorities (signs are ignored: |TD error|) change the frequencies accordingly.
    state = buf.update_priorities(state, jnp.arange(8), -jnp.asarray(priorities[::-1]))
    np.testing.assert_allclose(sampling_frequencies(buf, state), expected[::-1], atol=0.005)


def test_prioritized_importance_weights_follow_schaul_et_al():
    buf = prioritized(8, 64, alpha=0.6, beta=0.4, min_size=1)
    state = buf.add(buf.init(EXAMPLE), items(0, 5))
    priorities = np.array([1.0, 2.0, 3.0, 4.0, 0.5])
    state = buf.update_priorities(state, jnp.arange(5), jnp.asarray(priorities, jnp.float32))
    # w_i = (N P(i))^-beta / max_j (N P(j))^-beta over the N = 5 stored items.
    probabilities = (priorities + 1e-6) ** 0.6 / ((priorities + 1e-6) ** 0.6).sum()
    key = jax.random.key(4)
    for beta, (batch, info) in [(0.4, buf.sample(state, key)), (1.0, buf.sample(state, key, 1.0))]:
        weights = (5 * probabilities) ** -beta
        weights /= weights.max()
        np.testing.assert_allclose(info.weights, weights[np.asarray(info.indices)], rtol=1e-5)
        np.testing.assert_array_equal(batch["count"], info.indices)
        assert set(np.asarray(info.indices).tolist()) == {0, 1, 2, 3, 4}
    # With beta = 1, w_i = P(rarest) / P(i) = (0.5 / p_i)^alpha: the rarest item's weight is 1.
    np.testing.assert_allclose(weights, [(0.5 / p) ** 0.6 for p in priorities], rtol=1e-5)
    # The normaliser is the largest weight over the buffer, not over the batch: an item too
    # rare to be in the batch (P = 6e-4 here) still sets it, so the batch's weights stay below 1.
    priorities[4] = 1e-4
    state = buf.update_priorities(state, jnp.arange(5), jnp.asarray(priorities, jnp.float32))
    _, info = buf.sample(state, key)
    assert 4 not in np.asarray(info.indices)
    np.testing.assert_allclose(info.weights, ((1e-4 + 1e-6) / (priorities[info.indices] + 1e-6)) ** (0.6 * 0.4),
                               rtol=1e-5)


def test_prioritized_new_items_enter_at_the_largest_priority_so_far():
    buf = prioritized(8, 4, alpha=0.5)
    state = buf.add(buf.init(EXAMPLE), items(0, 2))
    np.testing.assert_allclose(leaves(state, 8)[:2], [1.0, 1.0])  # initial max priority 1
    state = buf.update_priorities(state, jnp.array([0, 1]), jnp.array([9.0, 0.25]))
    state = buf.add(state, items(2, 1))
    np.testing.assert_allclose(leaves(state, 8)[:3], np.sqrt(np.array([9.0, 0.25, 9.0]) + 1e-6), rtol=1e-6)
    # The maximum is the largest ever set, not the largest stored now.
    state = buf.update_priorities(state, jnp.array([0, 2]), jnp.array([0.01, 0.01]))
    state = buf.add(state, items(3, 1))
    expected = np.sqrt(np.array([0.01, 0.25, 0.01, 9.0]) + 1e-6)
    np.testing.assert_allclose(leaves(state, 8)[:4], expected, rtol=1e-6)
    np.testing.assert_allclose(state.max_priority, 9.0 + 1e-6, rtol=1e-6)


def test_prioritized_trees_stay_consistent_under_repeated_indices():
    capacity = 13  # 16 leaves, 3 of them padding
    buf = prioritized(capacity, 4)
    state = buf.add(buf.init(EXAMPLE), items(0, capacity))
    rng = np.random.default_rng(0)
    for _ in range(20):
        indices = rng.integers(0, capacity, size=24)  # 24 draws from 13 rows: always repeats
        priorities = rng.exponential(size=24).astype(np.float32)
        state = buf.update_priorities(state, jnp.asarray(indices), jnp.asarray(priorities))
        assert_trees_consistent(state, capacity)
        # Every updated row holds one of the priorities it was given.
        stored = leaves(state, capacity)
        for row in set(indices.tolist()):
            given = (priorities[indices == row] + 1e-6) ** 0.6
            assert np.isclose(stored[row], given, rtol=1e-6).any()
    # Indices beyond the stored items (which `sample` never returns) are ignored.
    partial = buf.add(buf.init(EXAMPLE), items(0, 3))
    updated = buf.update_priorities(partial, jnp.array([1, 5, 12, -1] * 6), jnp.full(24, 4.0))
    np.testing.assert_allclose(leaves(updated, capacity)[:4], [1.0, 4.0**0.6, 1.0, 0.0], rtol=1e-6)
    assert_trees_consistent(updated, capacity)


def test_prioritized_ignores_nan_and_infinite_priorities():
    # A diverged TD error must not poison the trees: before, one NaN leaf made the root NaN and
    # every later batch drew the same garbage row with NaN weights.
    buf = prioritized(8, 4, alpha=1.0)
    state = buf.add(buf.init(EXAMPLE), items(0, 4))
    state = buf.update_priorities(state, jnp.arange(4), jnp.array([1.0, 2.0, 3.0, 4.0]))
    state = buf.update_priorities(state, jnp.arange(4), jnp.array([np.nan, 6.0, np.inf, -np.inf]))
    np.testing.assert_allclose(leaves(state, 8)[:4], np.array([1.0, 6.0, 3.0, 4.0]) + 1e-6, rtol=1e-6)
    np.testing.assert_allclose(state.max_priority, 6.0 + 1e-6, rtol=1e-6)  # not inf
    assert_trees_consistent(state, 8)
    _, info = buf.sample(state, jax.random.key(3))
    assert np.isfinite(np.asarray(info.weights)).all() and set(np.asarray(info.indices).tolist()) <= {0, 1, 2, 3}
    np.testing.assert_allclose(sampling_frequencies(buf, state)[:4], np.array([1.0, 6.0, 3.0, 4.0]) / 14.0,
                               atol=0.005)


def test_prioritized_wraps_around_and_overwritten_rows_restart_at_max_priority():
    buf = prioritized(4, 2, alpha=1.0)
    state = buf.add(buf.init(EXAMPLE), items(0, 3))
    state = buf.update_priorities(state, jnp.array([0, 1, 2]), jnp.array([5.0, 0.5, 0.5]))
    state = buf.add(state, items(3, 3))  # rows 3, 0, 1
    np.testing.assert_array_equal(state.data["count"], [4, 5, 2, 3])
    assert int(state.insert_position) == 2 and int(state.size) == 4
    np.testing.assert_allclose(leaves(state, 4), np.array([5.0, 5.0, 0.5, 5.0]) + 1e-6, rtol=1e-6)
    assert_trees_consistent(state, 4)
    _, info = buf.sample(state, jax.random.key(5))
    assert set(np.asarray(info.indices).tolist()) <= {0, 1, 2, 3}


def test_prioritized_can_sample_and_an_empty_buffer_gives_finite_weights():
    buf = prioritized(8, 4, min_size=2)
    state = buf.init(EXAMPLE)
    assert not buf.can_sample(state)
    _, info = buf.sample(state, jax.random.key(9))
    np.testing.assert_array_equal(info.weights, np.ones(4))
    assert not buf.can_sample(buf.add(state, items(0, 1)))
    assert buf.can_sample(buf.add(state, items(0, 2)))


def test_prioritized_capacity_one():
    buf = prioritized(1, 3, min_size=1)
    state = buf.add(buf.init(EXAMPLE), items(7, 1))
    state = buf.update_priorities(state, jnp.array([0]), jnp.array([2.0]))
    batch, info = buf.sample(state, jax.random.key(6))
    np.testing.assert_array_equal(batch["count"], [7, 7, 7])
    np.testing.assert_allclose(info.weights, [1.0, 1.0, 1.0])


# n-step ----------------------------------------------------------------------------------


def trajectory(rewards, discounts, last, next_observations):
    """A time-major Transition; observations are 10 t (+ env), with one trailing axis."""
    rewards = jnp.asarray(rewards, jnp.float32)
    steps = jnp.arange(rewards.shape[0], dtype=jnp.float32)[:, None] * 10 + jnp.arange(rewards.shape[1])
    return Transition(
        observation=steps[..., None],
        action=jnp.zeros(rewards.shape, jnp.int32),
        reward=rewards,
        discount=jnp.asarray(discounts, jnp.float32),
        last=jnp.asarray(last, jnp.bool_),
        next_observation=jnp.asarray(next_observations, jnp.float32)[..., None],
        extras={"step": steps},
    )


# One env, 8 steps: episode A = steps 0-2, terminated at 2 (d = 0); B = 3-4, truncated at 4
# (d = 1, LAST); C = 5-7, still running. Auto-reset: next_observation at an episode end is the
# true final observation (25, 45), not the next episode's first (30, 50).
HAND = trajectory(
    rewards=[[1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0], [8.0]],
    discounts=[[1.0], [1.0], [0.0], [1.0], [1.0], [1.0], [1.0], [1.0]],
    last=[[0], [0], [1], [0], [1], [0], [0], [0]],
    next_observations=[[10.0], [20.0], [25.0], [40.0], [45.0], [60.0], [70.0], [80.0]],
)


def test_n_step_hand_computed_with_termination_and_truncation():
    out = jax.jit(replay.n_step.from_trajectory, static_argnums=1)(HAND, 3, 0.9)
    np.testing.assert_allclose(out.reward[:, 0], [
        1 + 0.9 * 2 + 0.81 * 3,  # 5.23: steps 0-2, ends at the termination
        2 + 0.9 * 3,             # 4.7
        3,                       # the terminal step alone
        4 + 0.9 * 5,             # 8.5: steps 3-4, ends at the truncation
        5,
        6 + 0.9 * 7 + 0.81 * 8,  # 17.88: a full window
        7 + 0.9 * 8,             # 14.2: cut by the end of the data
        8,
    ], rtol=1e-6)
    # gamma^m * prod d: 0 into the termination, gamma^m through the truncation.
    np.testing.assert_allclose(out.discount[:, 0], [0, 0, 0, 0.81, 0.9, 0.729, 0.81, 0.9], rtol=1e-6)
    np.testing.assert_array_equal(out.next_observation[:, 0, 0], [25, 25, 25, 45, 45, 80, 80, 80])
    np.testing.assert_array_equal(out.last[:, 0], [1, 1, 1, 1, 1, 0, 0, 0])
    # The start step's own fields are kept.
    np.testing.assert_array_equal(out.observation, HAND.observation)
    np.testing.assert_array_equal(out.extras["step"], HAND.extras["step"])
    # n = 1 gives the 1-step transitions back, with gamma folded into the discount.
    one = replay.n_step.from_trajectory(HAND, 1, 0.9)
    np.testing.assert_array_equal(one.reward, HAND.reward)
    np.testing.assert_allclose(one.discount, 0.9 * HAND.discount, rtol=1e-6)
    np.testing.assert_array_equal(one.next_observation, HAND.next_observation)


def reference_n_step(rewards, discounts, last, next_observations, n, gamma):
    """A plain loop over starts and steps."""
    length, num_envs = rewards.shape
    out = np.zeros((3, length, num_envs))
    for t in range(length):
        for e in range(num_envs):
            total, discount = 0.0, 1.0
            for k in range(n):
                if t + k >= length:
                    break
                total += gamma**k * rewards[t + k, e]
                discount *= gamma * discounts[t + k, e]
                end = t + k
                if last[t + k, e]:
                    break
            out[:, t, e] = total, discount, next_observations[end, e]
    return out


def random_trajectory(seed, length, num_envs):
    rng = np.random.default_rng(seed)
    last = rng.uniform(size=(length, num_envs)) < 0.3
    discounts = np.where(last & (rng.uniform(size=last.shape) < 0.5), 0.0, 1.0)
    rewards = rng.normal(size=last.shape)
    next_observations = rng.normal(size=last.shape)
    arrays = (rewards, discounts, last, next_observations)
    return arrays, trajectory(*arrays)


def test_n_step_matches_a_plain_loop_for_every_gamma_of_a_vmapped_sweep():
    arrays, data = random_trajectory(0, 16, 3)
    gammas = jnp.array([0.5, 0.9, 0.99])
    sweep = jax.vmap(replay.n_step.from_trajectory, in_axes=(None, None, 0))
    outs = jax.jit(sweep, static_argnums=1)(data, 4, gammas)
    for i, gamma in enumerate([0.5, 0.9, 0.99]):
        expected = reference_n_step(*arrays, 4, gamma)
        np.testing.assert_allclose(outs.reward[i], expected[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(outs.discount[i], expected[1], rtol=1e-5)
        np.testing.assert_allclose(outs.next_observation[i, ..., 0], expected[2], rtol=1e-6)


def test_n_step_streaming_emits_each_start_once_as_the_batch_form_does():
    n, gamma = 3, 0.9
    arrays, other = random_trajectory(1, 8, 1)
    # Env 0: the hand-computed episode above; env 1: random episode ends.
    data = jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=1), HAND, other)
    expected = replay.n_step.from_trajectory(data, n, gamma)
    example = jax.tree.map(lambda x: x[0, 0], data)
    state = replay.n_step.init(example, num_envs=2, n=n)
    push = jax.jit(replay.n_step.push)
    for t in range(8):
        state, ready, valid = push(state, jax.tree.map(lambda x: x[t], data), gamma)
        assert valid.shape == (2,) and bool(valid.all()) == (t >= n - 1)
        if t >= n - 1:
            # The transition starting n - 1 steps ago, as the batch form computes it.
            start = t - n + 1
            np.testing.assert_allclose(ready.reward, expected.reward[start], rtol=1e-6)
            np.testing.assert_allclose(ready.discount, expected.discount[start], rtol=1e-6)
            exact = lambda t: (t.observation, t.action, t.last, t.next_observation, t.extras)  # noqa: E731
            assert_trees_equal(exact(ready), exact(expected), index=start)
    # A buffer takes the emitted transitions as they are.
    buf = replay.uniform(16, 2)
    buf.add(buf.init(example), ready)


# Sequence --------------------------------------------------------------------------------

STEP = {"obs": jnp.zeros(3, jnp.float32), "time": jnp.zeros((), jnp.int32), "env": jnp.zeros((), jnp.int32)}


def steps(start, num, num_envs=2):
    """Steps start..start+num-1 of every env stream: time t, env e, obs [t, e, t + e]."""
    time = jnp.broadcast_to(start + jnp.arange(num, dtype=jnp.int32)[:, None], (num, num_envs))
    env = jnp.broadcast_to(jnp.arange(num_envs, dtype=jnp.int32), (num, num_envs))
    return {"obs": jnp.stack([time, env, time + env], -1).astype(jnp.float32), "time": time, "env": env}


@functools.cache
def sequence(capacity, length, batch_size, period=None):
    return jitted(replay.sequence(capacity, length, batch_size, period))


def check_windows(batch, info, added, size, capacity, length, period, num_envs=2):
    """Each window is `length` consecutive stored steps of one stream, starting on the period."""
    time, env = np.asarray(batch["time"]), np.asarray(batch["env"])
    np.testing.assert_array_equal(time, time[:, :1] + np.arange(length)[None])
    np.testing.assert_array_equal(env, np.broadcast_to(env[:, :1], env.shape))
    np.testing.assert_array_equal(batch["obs"], np.stack([time, env, time + env], -1))
    assert (time[:, 0] % period == 0).all()
    assert (time[:, 0] >= added - size).all() and (time[:, -1] <= added - 1).all()  # not past the head
    # Step t is stored in row t % capacity; indices name the first step's row and env.
    np.testing.assert_array_equal(info.indices, (time[:, 0] % capacity) * num_envs + env[:, 0])
    return set(zip(time[:, 0].tolist(), env[:, 0].tolist()))


def test_sequence_samples_windows_of_the_added_streams():
    buf = sequence(10, 4, 5)
    state = buf.init(STEP, num_envs=2)
    state = buf.add(state, steps(0, 3))
    assert not buf.can_sample(state)  # 3 < 4 steps
    state = buf.add(state, steps(3, 3))
    assert buf.can_sample(state)
    batch, info = buf.sample(state, jax.random.key(7))
    assert batch["obs"].shape == (5, 4, 3) and batch["time"].shape == (5, 4)
    np.testing.assert_array_equal(info.weights, np.ones(5))
    # 6 steps stored, non-overlapping windows of 4: only [0, 4) of either env.
    assert check_windows(batch, info, 6, 6, 10, 4, 4) <= {(0, 0), (0, 1)}


def test_sequence_windows_never_cross_the_write_head_and_cover_every_start():
    length, period = 4, 2  # windows overlap by 2 steps
    buf = sequence(11, length, 400, period)
    state = buf.init(STEP, num_envs=2)
    added = 0
    for num in [3, 1, 3, 3, 1, 3, 1, 1, 3, 3, 1]:  # 23 steps: the buffer has wrapped twice
        state = buf.add(state, steps(added, num))
        added += num
        size = min(added, 11)
        assert bool(buf.can_sample(state)) == (added >= length)
        if added < length:
            continue
        batch, info = buf.sample(state, jax.random.key(added))
        starts = check_windows(batch, info, added, size, 11, length, period)
        # Every start on the period whose window lies in the stored steps, for both envs.
        valid = [t for t in range(added - size, added - length + 1) if t % period == 0]
        assert starts == {(t, e) for t in valid for e in (0, 1)}
    assert added == 23 and int(state.size) == 11 and int(state.insert_position) == 23 % 11


def test_sequence_population_and_errors():
    buf = replay.sequence(8, 3, 4)
    states = jax.vmap(lambda _: buf.init(STEP, 2))(jnp.arange(2))
    chunks = jax.vmap(lambda i: steps(i * 100, 5))(jnp.arange(2))
    states = jax.vmap(buf.add)(states, chunks)
    batch, _ = jax.vmap(buf.sample)(states, jax.random.split(jax.random.key(8), 2))
    assert batch["obs"].shape == (2, 4, 3, 3)
    assert (np.asarray(batch["time"][1]) >= 100).all() and (np.asarray(batch["time"][0]) < 100).all()
    state = buf.init(STEP, num_envs=2)
    with pytest.raises(ValueError, match="capacity 8"):
        buf.add(state, steps(0, 9))
    with pytest.raises(ValueError, match=r"items\['env'\] has shape \(5, 3\)"):
        buf.add(state, steps(0, 5, num_envs=3))


# Sequence items (R2D2) -------------------------------------------------------------------


def stream_steps(t0, num, num_envs=2):
    """Steps t0 .. t0 + num - 1 of `num_envs` envs, time-major: every field says (t, env)."""
    t = t0 + jnp.arange(num, dtype=jnp.int32)[:, None]
    code = (10 * t + jnp.arange(num_envs, dtype=jnp.int32)[None, :]).astype(jnp.float32)  # [T, N]
    envs = jnp.ones((1, num_envs), jnp.int32)
    return Transition(observation=code[..., None], action=t * envs, reward=code, discount=jnp.ones_like(code),
                      last=(t % 3 == 2) & (code >= 0), next_observation=code[..., None] + 1,
                      extras={"carry": (code[..., None] * jnp.ones(3), -code), "time": t * envs})


def test_sequence_adder_emits_overlapping_sequences_with_the_first_steps_state():
    adder = replay.sequence_adder(4, 2, start_keys=("carry",))
    example = jax.tree.map(lambda x: x[0, 0], stream_steps(0, 1))
    state = adder.init(example, 2)
    push = jax.jit(adder.push)
    # First push: 2 steps; the one sequence per env is padded in front with 2 invalid zero steps.
    state, items = push(state, stream_steps(0, 2))
    assert items.steps.reward.shape == (2, 4) and items.valid.shape == (2, 4)
    np.testing.assert_array_equal(items.valid, [[False, False, True, True]] * 2)
    np.testing.assert_array_equal(items.steps.reward, [[0, 0, 0, 10], [0, 0, 1, 11]])
    np.testing.assert_array_equal(items.start["carry"][1], [0, 0])  # the padding's (zero) state
    assert set(items.steps.extras) == {"time"}  # the start key is kept once, not per step
    # Second push: 4 steps, so two sequences per env, ordered by start then env, overlapping by 2.
    state, items = push(state, stream_steps(2, 4))
    np.testing.assert_array_equal(items.steps.reward, [[0, 10, 20, 30], [1, 11, 21, 31], [20, 30, 40, 50],
                                                       [21, 31, 41, 51]])
    np.testing.assert_array_equal(items.valid, np.ones((4, 4), bool))
    np.testing.assert_array_equal(items.start["carry"][1], [-0.0, -1, -20, -21])
    np.testing.assert_array_equal(items.start["carry"][0][:, 0], [0, 1, 20, 21])
    np.testing.assert_array_equal(items.steps.extras["time"], [[0, 1, 2, 3], [0, 1, 2, 3], [2, 3, 4, 5], [2, 3, 4, 5]])
    np.testing.assert_array_equal(items.steps.last[2], [True, False, False, True])  # t = 2, 5 end episodes
    np.testing.assert_array_equal(state.window.reward, [[40, 41], [50, 51]])  # what the next sequences begin with
    # Without overlap (period = length) the sequences tile each env's stream.
    tiles = replay.sequence_adder(2)
    _, items = tiles.push(tiles.init(example, 2), stream_steps(0, 4))
    np.testing.assert_array_equal(items.steps.reward, [[0, 10], [1, 11], [20, 30], [21, 31]])
    assert items.start == {} and bool(items.valid.all())


def test_sequence_adder_errors():
    example = jax.tree.map(lambda x: x[0, 0], stream_steps(0, 1))
    with pytest.raises(ValueError, match=r"period \(5\) must be <= length \(4\)"):
        replay.sequence_adder(4, 5)
    with pytest.raises(ValueError, match="length must be an integer >= 1"):
        replay.sequence_adder(0)
    with pytest.raises(ValueError, match=r"start_keys \['core'\] are not in the steps' extras"):
        replay.sequence_adder(4, 2, start_keys=("core",)).init(example, 2)
    adder = replay.sequence_adder(4, 2)
    with pytest.raises(ValueError, match="multiple of period=2 steps, got 3"):
        adder.push(adder.init(example, 2), stream_steps(0, 3))
    with pytest.raises(ValueError, match=r"num_envs=2, ...\] \(time-major\), got reward of shape \(2, 3\)"):
        adder.push(adder.init(example, 2), stream_steps(0, 2, num_envs=3))


def test_prioritized_sequence_replay_samples_whole_sequences_by_their_mixed_priority():
    from jaxrl import losses

    adder = replay.sequence_adder(4, 2, start_keys=("carry",))
    example = jax.tree.map(lambda x: x[0, 0], stream_steps(0, 1))
    state = adder.init(example, 2)
    state, first = adder.push(state, stream_steps(0, 2))
    state, second = adder.push(state, stream_steps(2, 4))
    buf = replay.prioritized(8, 4000, alpha=1.0, beta=1.0, min_size=1)
    item = jax.tree.map(lambda x: x[0], first)
    buffer_state = buf.add(buf.add(buf.init(item), first), second)  # 6 sequences
    # R2D2's priority of each sequence from its |TD errors| over the steps that count.
    td = jnp.array([[1.0, -2.0, 0.0, 4.0, 1.0, 1.0], [3.0, 0.0, 0.0, -4.0, 1.0, 1.0]])  # [T=2, B=6]
    mask = jnp.array([[True, True, False, True, True, True], [True, False, True, True, True, True]])
    priorities = losses.sequence_priorities(td, mask, 0.9)
    # eta * max + (1 - eta) * mean: e.g. [1, 3] -> 0.9 * 3 + 0.1 * 2; [-2, masked] -> 2; [masked, 0] -> 0.
    np.testing.assert_allclose(priorities, [2.9, 2.0, 0.0, 4.0, 1.0, 1.0], rtol=1e-6)
    buffer_state = buf.update_priorities(buffer_state, jnp.arange(6), priorities)
    batch, info = jax.jit(buf.sample)(buffer_state, jax.random.key(3))
    counts = np.bincount(np.asarray(info.indices), minlength=6)
    np.testing.assert_allclose(counts / 4000, (priorities + 1e-6) / np.sum(priorities + 1e-6), atol=0.02)
    # Each sample is a whole sequence: the one stored in that row.
    stored = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first, second)
    assert_trees_equal(batch, jax.tree.map(lambda x: x[info.indices], stored))
