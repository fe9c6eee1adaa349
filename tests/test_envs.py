"""Environments: adapters (gymnax, brax), each wrapper, make() and register()."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl import envs, types
from jaxrl.envs import wrappers
from jaxrl.types import StepType


def rollout(env, actions, key=jax.random.key(0)):
    """Resets `env` and steps it through `actions` (leading time axis) in one lax.scan."""
    state, first = env.reset(key)

    def step(state, inputs):
        action, k = inputs
        state, timestep = env.step(state, action, k)
        return state, timestep

    keys = jax.random.split(key, actions.shape[0])
    return first, jax.lax.scan(step, state, (actions, keys))[1]


# --- gymnax -----------------------------------------------------------------------------------

def test_gymnax_cartpole_spec_and_shapes():
    env = jaxrl.make("CartPole-v1")
    spec = env.spec()
    assert spec.action == types.Discrete(2) and spec.observation.shape == (4,)
    assert spec.max_episode_steps == 500
    state, ts = env.reset(jax.random.key(0))
    assert ts.step_type == StepType.FIRST and ts.reward == 0.0 and ts.discount == 1.0
    assert ts.observation.shape == (4,) and ts.observation.dtype == jnp.float32
    state, ts = env.step(state, jnp.int32(1), jax.random.key(1))
    assert ts.step_type == StepType.MID and ts.reward == 1.0 and ts.discount == 1.0
    assert ts.step_type.dtype == jnp.int8


@pytest.fixture(scope="module")
def cartpole_fall():
    # Always pushing right topples the pole within a few dozen steps: a termination.
    return jax.jit(lambda: rollout(jaxrl.make("CartPole-v1"), jnp.ones(60, jnp.int32)))()


def test_gymnax_termination_has_discount_zero(cartpole_fall):
    _, steps = cartpole_fall
    last = np.asarray(steps.step_type) == StepType.LAST
    assert last.any()
    end = int(np.argmax(last))
    assert steps.discount[end] == 0.0
    assert np.all(np.asarray(steps.discount[:end]) == 1.0)
    assert np.all(np.asarray(steps.step_type[:end]) == StepType.MID)


def test_gymnax_truncation_has_discount_one():
    env = jaxrl.make("Pendulum-v1", episode_length=5)  # Pendulum never terminates
    assert env.spec().max_episode_steps == 5 and isinstance(env.spec().action, types.Box)
    _, steps = rollout(env, jnp.zeros((5, 1)))
    np.testing.assert_array_equal(steps.step_type, [1, 1, 1, 1, 2])
    np.testing.assert_array_equal(steps.discount, np.ones(5))


# --- brax -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def brax_runs():
    env = jaxrl.make("brax/inverted_pendulum")
    short = jaxrl.make("brax/inverted_pendulum", episode_length=3)

    @jax.jit
    def run():
        # Full force one way topples the pendulum (termination) well within 100 steps.
        return rollout(env, jnp.ones((100, 1))), rollout(short, jnp.zeros((3, 1)))

    return env, run()


def test_brax_spec_shapes_termination_and_truncation(brax_runs):
    env, ((first, steps), (_, short_steps)) = brax_runs
    spec = env.spec()
    assert spec.name == "brax/inverted_pendulum" and spec.max_episode_steps == 1000
    assert spec.observation.shape == (4,) and spec.action.shape == (1,)
    np.testing.assert_array_equal(spec.action.low, [-1.0])
    np.testing.assert_array_equal(spec.action.high, [1.0])
    assert first.observation.shape == (4,) and steps.observation.shape == (100, 4)
    last = np.asarray(steps.step_type) == StepType.LAST
    assert last.any()
    assert steps.discount[int(np.argmax(last))] == 0.0
    np.testing.assert_array_equal(short_steps.step_type, [1, 1, 2])
    np.testing.assert_array_equal(short_steps.discount, [1.0, 1.0, 1.0])


# --- wrappers on a tiny hand-checkable environment ---------------------------------------------

@dataclasses.dataclass(frozen=True)
class Counter:
    """Observation [t, last action, start]; reward = action; terminates when t reaches `end`.

    `start` is drawn from the reset key, so different keys give different episodes.
    """

    end: int = 3

    def spec(self):
        return types.EnvSpec("Counter", types.Box(-10.0, 10.0, (3,)), types.Box(-2.0, 4.0, (1,)))

    def reset(self, key):
        start = jax.random.uniform(key)
        return (jnp.int32(0), start), types.restart(jnp.stack([0.0, 0.0, start]))

    def step(self, state, action, key):
        t, start = state
        t = t + 1
        obs = jnp.stack([t.astype(jnp.float32), action[0], start])
        return (t, start), types.transition(obs, action[0], t >= self.end, False)


def test_time_limit_truncates_with_discount_one():
    env = wrappers.TimeLimit(Counter(end=100), max_episode_steps=2)
    assert env.spec().max_episode_steps == 2
    _, steps = rollout(env, jnp.ones((2, 1)))
    np.testing.assert_array_equal(steps.step_type, [1, 2])
    np.testing.assert_array_equal(steps.discount, [1.0, 1.0])
    # A termination on the limit step stays a termination.
    _, steps = rollout(wrappers.TimeLimit(Counter(end=2), 2), jnp.ones((2, 1)))
    np.testing.assert_array_equal(steps.discount, [1.0, 0.0])
    with pytest.raises(ValueError, match="max_episode_steps"):
        wrappers.TimeLimit(Counter(), 0)


def test_auto_reset_and_episode_statistics():
    env = wrappers.EpisodeStatistics(wrappers.AutoReset(Counter(end=3)))
    actions = jnp.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    first, steps = rollout(env, actions)
    np.testing.assert_array_equal(first.extras["next_observation"], first.observation)
    np.testing.assert_array_equal(steps.step_type, [1, 1, 2, 1, 1])
    np.testing.assert_array_equal(steps.discount, [1, 1, 0, 1, 1])
    np.testing.assert_array_equal(steps.reward, [1, 2, 3, 4, 5])
    # On the LAST step the observation already starts the next episode (t = 0) while
    # next_observation is the true final one (t = 3, last action 3).
    np.testing.assert_array_equal(steps.observation[2, :2], [0.0, 0.0])
    np.testing.assert_array_equal(steps.extras["next_observation"][2, :2], [3.0, 3.0])
    assert steps.observation[2, 2] != first.observation[2]  # a fresh episode start
    np.testing.assert_array_equal(steps.observation[3, :2], [1.0, 4.0])  # then a normal step
    keep = np.array([0, 1, 3, 4])
    np.testing.assert_array_equal(np.asarray(steps.extras["next_observation"])[keep], np.asarray(steps.observation)[keep])
    # Episode statistics: running totals, the finished episode's on LAST, then reset.
    np.testing.assert_array_equal(steps.extras["episode_return"], [1, 3, 6, 4, 9])
    np.testing.assert_array_equal(steps.extras["episode_length"], [1, 2, 3, 1, 2])


def test_vmap_env_batches_with_independent_keys():
    env = wrappers.VmapEnv(Counter(), num_envs=3)
    assert env.spec().num_envs == 3
    state, ts = env.reset(jax.random.key(0))
    assert ts.observation.shape == (3, 3) and ts.step_type.shape == (3,)
    assert len(set(np.asarray(ts.observation[:, 2]).tolist())) == 3  # different starts
    state, ts = env.step(state, jnp.array([[1.0], [2.0], [3.0]]), jax.random.key(1))
    np.testing.assert_array_equal(ts.reward, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="num_envs"):
        wrappers.VmapEnv(Counter(), num_envs=0)


def test_normalization_statistics_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(3.0, 2.0, (5, 2)).astype(np.float32), rng.normal(-1.0, 0.5, (7, 2)).astype(np.float32)
    stats = wrappers.init_normalization((2,))
    stats = wrappers.update_normalization(wrappers.update_normalization(stats, jnp.asarray(a)), jnp.asarray(b))
    both = np.concatenate([a, b])
    # The prior (mean 0, var 1, count 1e-4) weighs 1e-4 of an observation.
    np.testing.assert_allclose(stats.mean, both.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.var, both.var(0), rtol=1e-3)
    np.testing.assert_allclose(stats.count, 12.0001, rtol=1e-6)


def test_normalize_observation_wrapper():
    env = wrappers.NormalizeObservation(envs.batched(jaxrl.make("CartPole-v1"), 16))
    with pytest.raises(ValueError, match="batched"):
        wrappers.NormalizeObservation(jaxrl.make("CartPole-v1")).spec()

    @jax.jit
    def run(key):
        state, ts = env.reset(key)

        def step(state, k):
            action = jax.random.bernoulli(k, shape=(16,)).astype(jnp.int32)
            state, ts = env.step(state, action, k)
            return state, ts.observation

        return jax.lax.scan(step, state, jax.random.split(key, 300))[1]

    obs = np.asarray(run(jax.random.key(0)))[100:].reshape(-1, 4)
    np.testing.assert_allclose(obs.mean(0), 0.0, atol=0.25)
    np.testing.assert_allclose(obs.std(0), 1.0, atol=0.25)
    assert np.abs(obs).max() <= 10.0


def test_rescale_and_clip_action():
    env = wrappers.RescaleAction(Counter())  # env's action box is [-2, 4]
    np.testing.assert_array_equal(env.spec().action.low, [-1.0])
    state, _ = env.reset(jax.random.key(0))
    received = [float(env.step(state, jnp.array([a]), jax.random.key(0))[1].observation[1])
                for a in (-1.0, 0.0, 1.0, 5.0, -7.0)]
    assert received == [-2.0, 1.0, 4.0, 4.0, -2.0]
    clipped = wrappers.ClipAction(Counter())
    received = [float(clipped.step(state, jnp.array([a]), jax.random.key(0))[1].observation[1])
                for a in (-3.0, 0.5, 9.0)]
    assert received == [-2.0, 0.5, 4.0]
    with pytest.raises(ValueError, match="bounded Box"):
        wrappers.RescaleAction(jaxrl.make("CartPole-v1")).spec()


def test_make_batched_rescales_bounded_continuous_actions():
    env = envs.make_batched("Pendulum-v1", 2)
    spec = env.spec()
    assert spec.num_envs == 2
    np.testing.assert_array_equal(spec.action.low, [-1.0])
    np.testing.assert_array_equal(spec.action.high, [1.0])


# --- make and register -------------------------------------------------------------------------

@pytest.mark.parametrize("name, suggestion", [("CartPol-v1", "CartPole-v1"), ("brax/antt", "brax/ant"),
                                              ("pendulum-v1", "Pendulum-v1")])
def test_unknown_name_lists_close_matches(name, suggestion):
    with pytest.raises(ValueError, match=f"unknown environment '{name}'.*Did you mean.*'{suggestion}'"):
        jaxrl.make(name)


def test_register_custom_environment():
    jaxrl.register("Counter-test-v0", lambda end=3: Counter(end=end))
    env = jaxrl.make("Counter-test-v0", end=5)
    assert env.spec().name == "Counter"
    limited = jaxrl.make("Counter-test-v0", episode_length=2)
    assert limited.spec().max_episode_steps == 2
    with pytest.raises(ValueError, match="already registered"):
        jaxrl.register("Counter-test-v0", Counter)
    assert "Counter-test-v0" in envs.known_names()


# MNISTBandit-bsuite downloads MNIST at construction, which a sandboxed machine cannot.
GYMNAX_NAMES = [n for n in __import__("gymnax").registered_envs if n != "MNISTBandit-bsuite"]


@pytest.mark.parametrize("name", GYMNAX_NAMES)
def test_every_gymnax_env_adapts(name):
    env = jaxrl.make(name)
    spec = env.spec()
    assert isinstance(spec.observation, types.Box)
    state, ts = env.reset(jax.random.key(0))
    state, ts = env.step(state, spec.action.sample(jax.random.key(1)), jax.random.key(2))
    assert ts.observation.shape == spec.observation.shape and ts.observation.dtype == jnp.float32
    assert ts.reward.shape == () and ts.discount.shape == () and ts.step_type.dtype == jnp.int8
