"""Environments: adapters (gymnax, brax), each wrapper, make() and register().

Multi-step runs go through one `lax.scan` (`rollout`) inside one `jax.jit`, so each test pays
for at most a compilation or two; brax, slow to import and compile, has one module fixture.
"""

import dataclasses
import os
import subprocess
import sys
import uuid

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl import envs, types
from jaxrl.agents import ppo
from jaxrl.envs import wrappers
from jaxrl.envs.host import make_host
from jaxrl.types import StepType

MID, LAST = int(StepType.MID), int(StepType.LAST)


def rollout(env, actions, key=None):
    """Resets `env` with `key` and steps it through `actions` (leading time axis) in a lax.scan.

    Returns the FIRST time step and the stacked time steps of every step, plus the final state.
    """
    key = jax.random.key(0) if key is None else key
    reset_key, steps_key = jax.random.split(key)
    state, first = env.reset(reset_key)

    def step(state, inputs):
        action, k = inputs
        return env.step(state, action, k)

    keys = jax.random.split(steps_key, actions.shape[0])
    state, steps = jax.lax.scan(step, state, (actions, keys))
    return first, steps, state


def unique(name):
    """A fresh registry name: the registry is global to the process."""
    return f"{name}-{uuid.uuid4().hex[:8]}-v0"


def assert_scalar_fields(ts, batch=()):
    """step_type int8, reward and discount float32, all of shape `batch`."""
    assert ts.step_type.shape == batch and ts.step_type.dtype == jnp.int8
    assert ts.reward.shape == batch and ts.reward.dtype == jnp.float32
    assert ts.discount.shape == batch and ts.discount.dtype == jnp.float32


# --- gymnax -----------------------------------------------------------------------------------

def test_gymnax_cartpole_spec_and_timestep_fields():
    env = jaxrl.make("CartPole-v1")
    spec = env.spec()
    assert spec.name == "CartPole-v1"
    assert spec.action == types.Discrete(2) and spec.discrete_actions
    assert isinstance(spec.observation, types.Box) and spec.observation.shape == (4,)
    assert spec.max_episode_steps == 500 and spec.num_envs is None

    state, ts = env.reset(jax.random.key(0))
    assert_scalar_fields(ts)
    assert int(ts.step_type) == StepType.FIRST and float(ts.reward) == 0.0 and float(ts.discount) == 1.0
    assert ts.observation.shape == (4,) and ts.observation.dtype == jnp.float32
    assert ts.extras == {}
    assert np.all(np.abs(ts.observation) <= 0.05)  # gymnax draws the start in [-0.05, 0.05]^4
    assert bool(spec.observation.contains(ts.observation))
    # Reset is a pure function of its key.
    np.testing.assert_array_equal(env.reset(jax.random.key(0))[1].observation, ts.observation)
    assert not np.array_equal(env.reset(jax.random.key(1))[1].observation, ts.observation)

    state, ts = env.step(state, jnp.int32(1), jax.random.key(1))
    assert_scalar_fields(ts)
    assert int(ts.step_type) == MID and float(ts.reward) == 1.0 and float(ts.discount) == 1.0
    assert ts.observation.shape == (4,) and ts.observation.dtype == jnp.float32


@pytest.fixture(scope="module")
def cartpole_fall():
    # Always pushing right topples the pole within a few dozen steps: a termination.
    env = jaxrl.make("CartPole-v1")
    first, steps, _ = jax.jit(lambda: rollout(env, jnp.ones(60, jnp.int32)))()
    return env, first, jax.tree.map(np.asarray, steps)


def test_gymnax_termination_is_last_with_discount_zero(cartpole_fall):
    env, _, steps = cartpole_fall
    last = steps.step_type == LAST
    assert last.any(), "the pole never fell"
    end = int(np.argmax(last))
    assert end < 59
    assert steps.discount[end] == 0.0
    np.testing.assert_array_equal(steps.step_type[:end], MID)
    np.testing.assert_array_equal(steps.discount[:end], 1.0)
    np.testing.assert_array_equal(steps.reward[: end + 1], 1.0)  # CartPole pays the fatal step too
    # The LAST observation is the true terminal state (the adapter never auto-resets): past a
    # threshold, while every earlier state was within both.
    x, theta = steps.observation[:, 0], steps.observation[:, 2]
    out = (np.abs(x) > env.params.x_threshold) | (np.abs(theta) > env.params.theta_threshold_radians)
    assert out[end] and not out[:end].any()


@pytest.mark.parametrize("name, actions", [
    ("CartPole-v1", jnp.array([0, 1, 0, 1, 0], jnp.int32)),  # wobbling keeps the pole up
    ("Pendulum-v1", jnp.zeros((5, 1))),  # Pendulum never terminates
])
def test_gymnax_truncation_is_last_with_discount_one(name, actions):
    env = jaxrl.make(name, episode_length=5)
    assert env.spec().max_episode_steps == 5
    _, steps, _ = jax.jit(lambda: rollout(env, actions))()
    np.testing.assert_array_equal(steps.step_type, [MID, MID, MID, MID, LAST])
    np.testing.assert_array_equal(steps.discount, [1.0, 1.0, 1.0, 1.0, 1.0])


def test_gymnax_continuous_spec_is_box():
    spec = jaxrl.make("Pendulum-v1").spec()
    assert isinstance(spec.action, types.Box) and not spec.discrete_actions
    assert spec.action.shape == (1,) and spec.action.bounded
    np.testing.assert_array_equal(spec.action.low, [-2.0])
    np.testing.assert_array_equal(spec.action.high, [2.0])
    assert spec.observation.shape == (3,) and spec.max_episode_steps == 200


# MNISTBandit-bsuite downloads MNIST at construction, which a sandboxed machine cannot.
GYMNAX_NAMES = [n for n in __import__("gymnax").registered_envs if n != "MNISTBandit-bsuite"]


@pytest.mark.parametrize("name", GYMNAX_NAMES)
def test_every_gymnax_env_adapts(name):
    env = jaxrl.make(name)
    spec = env.spec()
    assert isinstance(spec.observation, types.Box)
    state, ts = env.reset(jax.random.key(0))
    assert ts.observation.shape == spec.observation.shape and ts.observation.dtype == jnp.float32
    state, ts = env.step(state, spec.action.sample(jax.random.key(1)), jax.random.key(2))
    assert ts.observation.shape == spec.observation.shape and ts.observation.dtype == jnp.float32
    assert_scalar_fields(ts)


# --- brax -------------------------------------------------------------------------------------

def traced_spec(env):
    """`env.spec()`, computed under `jax.eval_shape`.

    brax's `observation_size` runs an eager `reset`, which costs seconds of op-by-op dispatch the
    first time; traced, the same code is cheap.
    """
    specs = []
    jax.eval_shape(lambda: specs.append(env.spec()))
    return specs[0]


@pytest.fixture(scope="module")
def brax_runs():
    """Everything brax is asked, computed by one compiled function."""
    env = jaxrl.make("brax/inverted_pendulum")
    short = jaxrl.make("brax/inverted_pendulum", episode_length=3)
    # The training stack on brax: auto-reset must select between brax `State` pytrees.
    stack = envs.batched(short, 2)

    @jax.jit
    def run(key):
        # Full force one way topples the pendulum (termination) within a few steps.
        first, fall, _ = rollout(env, jnp.ones((20, 1)), key)
        _, short_steps, _ = jax.vmap(lambda a: rollout(short, a, key))(
            jnp.stack([jnp.zeros((3, 1)), jnp.ones((3, 1))]))
        stack_actions = jnp.broadcast_to(jnp.array([[0.0], [1.0]]), (5, 2, 1))
        _, stack_steps, _ = rollout(stack, stack_actions, key)
        return first, fall, short_steps, stack_steps

    specs = traced_spec(env), traced_spec(short), traced_spec(stack)
    return specs, jax.tree.map(np.asarray, run(jax.random.key(0)))


def test_brax_spec_and_timestep_fields(brax_runs):
    (spec, short_spec, stack_spec), (first, fall, _, _) = brax_runs
    assert spec.name == "brax/inverted_pendulum"
    assert spec.max_episode_steps == 1000 and short_spec.max_episode_steps == 3
    assert stack_spec.num_envs == 2 and stack_spec.observation.shape == (4,)
    assert isinstance(spec.action, types.Box) and spec.action.shape == (1,)
    np.testing.assert_array_equal(spec.action.low, [-1.0])
    np.testing.assert_array_equal(spec.action.high, [1.0])
    assert spec.observation.shape == (4,)
    assert_scalar_fields(first)
    assert first.step_type == StepType.FIRST and first.reward == 0.0 and first.discount == 1.0
    assert first.observation.shape == (4,) and first.observation.dtype == np.float32
    assert np.all(np.abs(first.observation) <= 0.01)  # brax starts within 0.01 of upright, at rest
    assert_scalar_fields(fall, (20,))
    assert fall.observation.shape == (20, 4) and fall.observation.dtype == np.float32


def test_making_a_brax_env_prints_nothing():
    """MuJoCo's MJX prints "Failed to import warp: ..." to stdout when NVIDIA Warp is missing (jaxrl
    does not install it, nor need it); making a brax env keeps that out of a user's output."""
    code = "import jaxrl; jaxrl.make('brax/inverted_pendulum', episode_length=3)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_brax_termination_is_last_with_discount_zero(brax_runs):
    _, (_, fall, short_steps, _) = brax_runs
    last = fall.step_type == LAST
    assert last.any(), "the pendulum never fell"
    end = int(np.argmax(last))
    assert fall.discount[end] == 0.0
    np.testing.assert_array_equal(fall.step_type[:end], MID)
    np.testing.assert_array_equal(fall.discount[:end], 1.0)
    np.testing.assert_array_equal(fall.reward[: end + 1], 1.0)
    # brax's inverted pendulum is done when the pole leans more than 0.2 rad.
    lean = np.abs(fall.observation[:, 1]) > 0.2
    assert lean[end] and not lean[:end].any()
    # The same push under a 3-step limit follows the same dynamics (TimeLimit changes none of
    # them), and where it falls on the limit step termination wins: discount 0.
    pushed = jax.tree.map(lambda x: x[1], short_steps)
    np.testing.assert_allclose(pushed.observation, fall.observation[:3], rtol=1e-6, atol=1e-6)
    assert pushed.step_type[2] == LAST
    assert pushed.discount[2] == (0.0 if end <= 2 else 1.0)


def test_brax_truncation_is_last_with_discount_one(brax_runs):
    _, (_, _, short_steps, _) = brax_runs
    idle = jax.tree.map(lambda x: x[0], short_steps)  # no force: the pole stays up for 3 steps
    np.testing.assert_array_equal(idle.step_type, [MID, MID, LAST])
    np.testing.assert_array_equal(idle.discount, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(idle.reward, [1.0, 1.0, 1.0])


def test_brax_training_stack_auto_resets(brax_runs):
    _, (_, _, _, steps) = brax_runs
    assert steps.observation.shape == (5, 2, 4)
    # Copy 0 (no force) is truncated at step 3 and goes on with a new episode.
    idle = jax.tree.map(lambda x: x[:, 0], steps)
    np.testing.assert_array_equal(idle.step_type, [MID, MID, LAST, MID, MID])
    np.testing.assert_array_equal(idle.discount, 1.0)
    np.testing.assert_array_equal(idle.extras["episode_length"], [1, 2, 3, 1, 2])
    np.testing.assert_array_equal(idle.extras["episode_return"], [1.0, 2.0, 3.0, 1.0, 2.0])
    # The new episode starts near upright while next_observation keeps the true final state.
    assert np.all(np.abs(idle.observation[2]) <= 0.01)
    assert not np.allclose(idle.extras["next_observation"][2], idle.observation[2])
    # Copy 1 (full force) falls, is reset upright, and falls again within 5 steps: every LAST
    # is a termination whose true final state leans past 0.2 rad.
    pushed = jax.tree.map(lambda x: x[:, 1], steps)
    ends = pushed.step_type == LAST
    assert ends.sum() >= 2
    np.testing.assert_array_equal(pushed.discount, np.where(ends, 0.0, 1.0))
    assert np.all(np.abs(pushed.extras["next_observation"][ends, 1]) > 0.2)
    assert np.all(np.abs(pushed.observation[ends]) <= 0.01)


# --- wrappers on tiny hand-checkable environments ----------------------------------------------

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


@dataclasses.dataclass(frozen=True)
class ActionRecorder:
    """Observes the action it last received; its action box has different bounds per axis."""

    def spec(self):
        box = types.Box(np.array([-2.0, 0.0]), np.array([4.0, 10.0]), (2,))
        return types.EnvSpec("ActionRecorder", types.Box(-np.inf, np.inf, (2,)), box)

    def reset(self, key):
        return (), types.restart(jnp.zeros(2))

    def step(self, state, action, key):
        return (), types.transition(action, 0.0, False, False)


@dataclasses.dataclass(frozen=True)
class UnboundedRecorder(ActionRecorder):
    def spec(self):
        return dataclasses.replace(super().spec(), action=types.Box(-np.inf, np.inf, (2,)))


def test_time_limit_truncates_with_discount_one():
    env = wrappers.TimeLimit(Counter(end=100), max_episode_steps=2)
    assert env.spec().max_episode_steps == 2 and env.unwrapped == Counter(end=100)
    _, steps, state = rollout(env, jnp.ones((2, 1)))
    np.testing.assert_array_equal(steps.step_type, [MID, LAST])
    np.testing.assert_array_equal(steps.discount, [1.0, 1.0])
    np.testing.assert_array_equal(steps.reward, [1.0, 1.0])
    assert int(state.steps) == 2
    # A termination on the limit step stays a termination.
    _, steps, _ = rollout(wrappers.TimeLimit(Counter(end=2), 2), jnp.ones((2, 1)))
    np.testing.assert_array_equal(steps.step_type, [MID, LAST])
    np.testing.assert_array_equal(steps.discount, [1.0, 0.0])
    # Under AutoReset the limit counts each episode afresh.
    _, steps, _ = rollout(wrappers.AutoReset(wrappers.TimeLimit(Counter(end=100), 2)), jnp.ones((5, 1)))
    np.testing.assert_array_equal(steps.step_type, [MID, LAST, MID, LAST, MID])
    np.testing.assert_array_equal(steps.discount, 1.0)
    with pytest.raises(ValueError, match="max_episode_steps"):
        wrappers.TimeLimit(Counter(), 0)


@pytest.fixture(scope="module")
def counter_episodes():
    """EpisodeStatistics(AutoReset(Counter(end=3))) for 7 steps: two full episodes and a bit."""
    env = wrappers.EpisodeStatistics(wrappers.AutoReset(Counter(end=3)))
    actions = jnp.arange(1.0, 8.0)[:, None]  # reward of step i is i
    first, steps, _ = jax.jit(lambda: rollout(env, actions))()
    return jax.tree.map(np.asarray, (first, steps))


def test_auto_reset(counter_episodes):
    first, steps = counter_episodes
    np.testing.assert_array_equal(first.extras["next_observation"], first.observation)
    np.testing.assert_array_equal(steps.step_type, [MID, MID, LAST, MID, MID, LAST, MID])
    # Reward and discount on LAST are those of the final transition.
    np.testing.assert_array_equal(steps.reward, [1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(steps.discount, [1, 1, 0, 1, 1, 0, 1])
    for end in (2, 5):
        # On LAST the observation already starts the next episode: [t=0, no action, new start]
        # drawn from a fresh key, while next_observation is the true final one (t = 3).
        assert steps.observation[end, 0] == 0.0 and steps.observation[end, 1] == 0.0
        assert 0.0 <= steps.observation[end, 2] < 1.0
        np.testing.assert_array_equal(steps.extras["next_observation"][end],
                                      [3.0, end + 1.0, steps.observation[end - 1, 2]])
        assert steps.observation[end, 2] != steps.observation[end - 1, 2]
        # The following step is a normal MID step of that new episode.
        assert steps.step_type[end + 1] == MID
        np.testing.assert_array_equal(steps.observation[end + 1], [1.0, end + 2.0, steps.observation[end, 2]])
    assert steps.observation[2, 2] != steps.observation[5, 2] != first.observation[2]
    # Off LAST steps next_observation is just the observation.
    mid = steps.step_type != LAST
    np.testing.assert_array_equal(steps.extras["next_observation"][mid], steps.observation[mid])


def test_episode_statistics(counter_episodes):
    first, steps = counter_episodes
    assert first.extras["episode_return"] == 0.0 and first.extras["episode_length"] == 0
    assert first.extras["episode_return"].dtype == np.float32
    assert first.extras["episode_length"].dtype == np.int32
    # Running totals including this step; on LAST the finished episode's, then back to zero.
    np.testing.assert_array_equal(steps.extras["episode_return"], [1, 3, 1 + 2 + 3, 4, 9, 4 + 5 + 6, 7])
    np.testing.assert_array_equal(steps.extras["episode_length"], [1, 2, 3, 1, 2, 3, 1])
    assert steps.extras["episode_return"].dtype == np.float32
    assert steps.extras["episode_length"].dtype == np.int32


def test_vmap_env_batches_with_independent_keys():
    env = wrappers.VmapEnv(Counter(), num_envs=3)
    assert env.spec().num_envs == 3 and env.spec().observation.shape == (3,)
    key = jax.random.key(0)
    state, ts = env.reset(key)
    assert ts.observation.shape == (3, 3) and state[0].shape == (3,) and state[1].shape == (3,)
    assert_scalar_fields(ts, (3,))
    assert len(set(ts.observation[:, 2].tolist())) == 3  # each copy drew its own start
    # Copy i is exactly the unbatched env driven by the i-th split of the key.
    keys = jax.random.split(key, 3)
    for i in range(3):
        np.testing.assert_array_equal(ts.observation[i], Counter().reset(keys[i])[1].observation)
    state, ts = env.step(state, jnp.array([[1.0], [2.0], [3.0]]), jax.random.key(1))
    assert_scalar_fields(ts, (3,))
    np.testing.assert_array_equal(ts.reward, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ts.observation[:, :2], [[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
    with pytest.raises(ValueError, match="num_envs"):
        wrappers.VmapEnv(Counter(), num_envs=0)


def test_update_normalization_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(3.0, 2.0, (5, 2)).astype(np.float32)
    b = rng.normal(-1.0, 0.5, (7, 2)).astype(np.float32)
    stats = wrappers.init_normalization((2,))
    stats = wrappers.update_normalization(wrappers.update_normalization(stats, jnp.asarray(a)), jnp.asarray(b))
    both = np.concatenate([a, b]).astype(np.float64)
    # The prior (mean 0, var 1) weighs 1e-4 of an observation.
    np.testing.assert_allclose(stats.mean, both.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.var, both.var(0), rtol=1e-4)
    np.testing.assert_allclose(stats.count, 12.0001, rtol=1e-6)


@pytest.fixture(scope="module")
def normalized_cartpole():
    """300 random steps of 8 CartPoles, raw and normalised, from the same keys and actions."""
    num_envs, num_steps = 8, 300
    raw = envs.batched(jaxrl.make("CartPole-v1"), num_envs)
    env = envs.batched(jaxrl.make("CartPole-v1"), num_envs, normalize_observations=True)

    @jax.jit
    def run(key):
        actions = jax.random.bernoulli(key, shape=(num_steps, num_envs)).astype(jnp.int32)
        raw_first, raw_steps, _ = rollout(raw, actions, key)
        first, steps, state = rollout(env, actions, key)
        return raw_first, raw_steps, first, steps, state.stats

    return env, jax.tree.map(np.asarray, run(jax.random.key(0)))


def test_normalize_observation(normalized_cartpole):
    env, (raw_first, raw_steps, first, steps, stats) = normalized_cartpole
    assert isinstance(env, wrappers.NormalizeObservation)
    spec = env.spec()
    np.testing.assert_array_equal(spec.observation.low, -10.0)
    np.testing.assert_array_equal(spec.observation.high, 10.0)
    # The running statistics are those of every observation seen (reset and after each step).
    seen = np.concatenate([raw_first.observation, raw_steps.observation.reshape(-1, 4)]).astype(np.float64)
    np.testing.assert_allclose(stats.count, len(seen) + 1e-4, rtol=1e-6)
    np.testing.assert_allclose(stats.mean, seen.mean(0), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(stats.var, seen.var(0), rtol=1e-3)
    # The last batch is normalised with the statistics that include it.
    expected = (raw_steps.observation[-1] - stats.mean) / np.sqrt(stats.var + 1e-8)
    np.testing.assert_allclose(steps.observation[-1], expected, rtol=1e-4, atol=1e-5)
    expected = (raw_steps.extras["next_observation"][-1] - stats.mean) / np.sqrt(stats.var + 1e-8)
    np.testing.assert_allclose(steps.extras["next_observation"][-1], expected, rtol=1e-4, atol=1e-5)
    # Once the statistics settle, normalised observations have mean ~0 and std ~1.
    settled = steps.observation[100:].reshape(-1, 4)
    np.testing.assert_allclose(settled.mean(0), 0.0, atol=0.2)
    np.testing.assert_allclose(settled.std(0), 1.0, atol=0.2)
    assert np.abs(steps.observation).max() <= 10.0
    # Rewards, step types and episode statistics are untouched.
    np.testing.assert_array_equal(steps.reward, raw_steps.reward)
    np.testing.assert_array_equal(steps.step_type, raw_steps.step_type)
    np.testing.assert_array_equal(steps.extras["episode_return"], raw_steps.extras["episode_return"])
    assert (steps.step_type == LAST).any()
    with pytest.raises(ValueError, match="batched"):
        wrappers.NormalizeObservation(jaxrl.make("CartPole-v1")).spec()


def test_rescale_action():
    env = wrappers.RescaleAction(ActionRecorder())  # the recorder's box is [-2, 4] x [0, 10]
    spec = env.spec()
    np.testing.assert_array_equal(spec.action.low, [-1.0, -1.0])
    np.testing.assert_array_equal(spec.action.high, [1.0, 1.0])
    assert spec.observation.shape == (2,) and not spec.observation.bounded  # unchanged
    actions = jnp.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0], [0.5, -0.5], [5.0, -7.0]])
    _, steps, _ = jax.jit(lambda: rollout(env, actions))()
    np.testing.assert_allclose(steps.observation, [[-2.0, 0.0], [4.0, 10.0], [1.0, 5.0], [2.5, 2.5], [4.0, 0.0]])
    with pytest.raises(ValueError, match="bounded Box"):
        wrappers.RescaleAction(jaxrl.make("CartPole-v1")).spec()
    with pytest.raises(ValueError, match="bounded Box"):
        wrappers.RescaleAction(UnboundedRecorder()).spec()


def test_clip_action():
    env = wrappers.ClipAction(ActionRecorder())
    np.testing.assert_array_equal(env.spec().action.low, [-2.0, 0.0])  # unchanged
    np.testing.assert_array_equal(env.spec().action.high, [4.0, 10.0])
    actions = jnp.array([[-3.0, 20.0], [0.5, 5.0], [4.0, -1.0]])
    _, steps, _ = jax.jit(lambda: rollout(env, actions))()
    np.testing.assert_array_equal(steps.observation, [[-2.0, 10.0], [0.5, 5.0], [4.0, 0.0]])


def test_batched_builds_the_training_stack():
    env = envs.batched(Counter(end=3), 2)
    assert isinstance(env, wrappers.VmapEnv) and env.num_envs == 2
    assert isinstance(env.env, wrappers.EpisodeStatistics)
    assert isinstance(env.env.env, wrappers.AutoReset)
    assert env.unwrapped == Counter(end=3)
    assert env.spec().num_envs == 2
    normalized = envs.batched(Counter(end=3), 2, normalize_observations=True)
    assert isinstance(normalized, wrappers.NormalizeObservation) and normalized.env == env
    # make_batched rescales bounded continuous actions to [-1, 1] and leaves discrete ones.
    pendulum = envs.make_batched("Pendulum-v1", 2)
    assert isinstance(pendulum.env.env.env, wrappers.RescaleAction)
    np.testing.assert_array_equal(pendulum.spec().action.low, [-1.0])
    np.testing.assert_array_equal(pendulum.spec().action.high, [1.0])
    assert envs.make_batched("CartPole-v1", 2).spec().action == types.Discrete(2)


def test_batched_steps_every_copy_through_its_own_episodes():
    env = envs.batched(Counter(end=3), 2)
    actions = jnp.stack([jnp.ones((4, 1)), 2.0 * jnp.ones((4, 1))], axis=1)  # (time, env, 1)
    first, steps, _ = jax.jit(lambda: rollout(env, actions))()
    assert first.observation.shape == (2, 3) and steps.observation.shape == (4, 2, 3)
    assert set(steps.extras) == {"next_observation", "episode_return", "episode_length"}
    np.testing.assert_array_equal(steps.step_type, [[MID, MID], [MID, MID], [LAST, LAST], [MID, MID]])
    np.testing.assert_array_equal(steps.extras["episode_return"], [[1, 2], [2, 4], [3, 6], [1, 2]])
    np.testing.assert_array_equal(steps.extras["episode_length"], [[1, 1], [2, 2], [3, 3], [1, 1]])
    np.testing.assert_array_equal(steps.extras["next_observation"][2, :, :2], [[3.0, 1.0], [3.0, 2.0]])
    assert steps.observation[2, 0, 2] != steps.observation[2, 1, 2]


# --- make and register -------------------------------------------------------------------------

@pytest.mark.parametrize("name, suggestion", [
    ("CartPol-v1", "CartPole-v1"),
    ("brax/antt", "brax/ant"),
    ("pendulum-v1", "Pendulum-v1"),
    ("cartpole", "CartPole-v1"),
])
def test_unknown_name_lists_close_matches(name, suggestion):
    with pytest.raises(ValueError, match=f"unknown environment '{name}'.*Did you mean.*'{suggestion}'"):
        jaxrl.make(name)


def test_unknown_name_without_close_match_lists_known_names():
    with pytest.raises(ValueError) as info:
        jaxrl.make("zzqqxx")
    message = str(info.value)
    assert "Did you mean" not in message
    assert "CartPole-v1" in message and "brax/ant" in message


def test_register_custom_environment():
    name = unique("Counter")
    jaxrl.register(name, lambda end=3: Counter(end=end))
    assert name in envs.known_names()
    env = jaxrl.make(name, end=2)  # kwargs go to the factory
    assert env == Counter(end=2)
    _, steps, _ = jax.jit(lambda: rollout(env, jnp.ones((2, 1))))()
    np.testing.assert_array_equal(steps.step_type, [MID, LAST])
    np.testing.assert_array_equal(steps.discount, [1.0, 0.0])
    limited = jaxrl.make(name, end=100, episode_length=4)
    assert isinstance(limited, wrappers.TimeLimit) and limited.spec().max_episode_steps == 4
    assert limited.env == Counter(end=100)
    with pytest.raises(ValueError, match="already registered"):
        jaxrl.register(name, Counter)


def test_register_rejects_bad_arguments():
    with pytest.raises(ValueError, match="non-empty string"):
        jaxrl.register("", Counter)
    with pytest.raises(TypeError, match="callable"):
        jaxrl.register(unique("NotCallable"), Counter())


def test_masked_cartpole_is_cartpole_without_its_velocities():
    # Same dynamics, keys and episodes as CartPole-v1; only the observation differs, with the cart's
    # and the pole's velocities (entries 1 and 3) zeroed, also in the true successor observation.
    masked, plain = envs.make_batched("MaskedCartPole-v1", 3), envs.make_batched("CartPole-v1", 3)
    assert masked.spec().name == "MaskedCartPole-v1" and masked.spec().observation == plain.spec().observation
    assert masked.spec().max_episode_steps == plain.spec().max_episode_steps == 500
    assert "MaskedCartPole-v1" in envs.known_names()
    actions = jax.random.bernoulli(jax.random.key(1), 0.5, (60, 3)).astype(jnp.int32)
    first_m, steps_m, _ = jax.jit(lambda: rollout(masked, actions))()
    first_p, steps_p, _ = jax.jit(lambda: rollout(plain, actions))()
    assert bool(jnp.any(steps_p.last()))  # episodes end and restart inside the rollout
    keep = jnp.array([1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(first_m.observation, first_p.observation * keep)
    np.testing.assert_array_equal(steps_m.observation, steps_p.observation * keep)
    np.testing.assert_array_equal(steps_m.extras["next_observation"], steps_p.extras["next_observation"] * keep)
    np.testing.assert_array_equal(steps_m.reward, steps_p.reward)
    np.testing.assert_array_equal(steps_m.step_type, steps_p.step_type)
    assert bool(jnp.all(jnp.abs(steps_p.observation[..., 1]) > 0))
    assert envs.make("MaskedCartPole-v1", episode_length=20).spec().max_episode_steps == 20
    with pytest.raises(ValueError, match=r"MaskObservation: keep has 2 entries for observations of shape \(4,\)"):
        envs.MaskObservation(jaxrl.make("CartPole-v1"), (True, False))


def test_register_cannot_replace_builtin_names():
    for name in ("CartPole-v1", "brax/ant", "MaskedCartPole-v1"):
        with pytest.raises(ValueError, match="already registered"):
            jaxrl.register(name, lambda: None)
    # Agents send these prefixes to the host loop: such a registration could never be trained.
    for name in ("gymnasium/MyCartPole-v0", "envpool/Mine-v0"):
        with pytest.raises(ValueError, match=rf"environment name '{name}' starts with \w+/, which names host-side"):
            jaxrl.register(name, Counter)


@dataclasses.dataclass(frozen=True)
class DiscreteObservations(Counter):
    def spec(self):
        return dataclasses.replace(super().spec(), observation=types.Discrete(5))


@dataclasses.dataclass(frozen=True)
class WrongShape(Counter):
    def spec(self):
        return dataclasses.replace(super().spec(), observation=types.Box(-10.0, 10.0, (2,)))


@dataclasses.dataclass(frozen=True)
class NoStep:
    def spec(self):
        return Counter().spec()

    def reset(self, key):
        return Counter().reset(key)


@pytest.mark.parametrize("env, error, message", [
    (NoStep(), TypeError, r"its factory returned a NoStep without step\(\); an environment has spec\(\)"),
    (DiscreteObservations(), ValueError, r"observations must be a Box .*, its spec has Discrete\(num_values=5"),
    (WrongShape(), ValueError, r"reset returns observations of shape \(3,\), its spec declares \(2,\)"),
])
def test_a_registered_env_that_agents_cannot_use_is_refused_when_made(env, error, message):
    # Each passed make_train and failed later: inside flax (shape errors) or while compiling.
    name = unique("Broken")
    jaxrl.register(name, lambda: env)
    with pytest.raises(error, match=rf"^environment '{name}': {message}"):
        jaxrl.make(name)
    with pytest.raises(error, match=rf"^environment '{name}': "):
        ppo.make_train(ppo.Config(env=name, episode_length=5))


def test_bad_episode_length_raises_for_every_source():
    for name in ("CartPole-v1", "brax/inverted_pendulum"):
        for bad in (0, True):
            with pytest.raises(ValueError, match="episode_length"):
                jaxrl.make(name, episode_length=bad)
    # Host envs too: envpool took -3 and cut every episode after one step; gymnasium asserted.
    for name in ("gymnasium/CartPole-v1", "envpool/CartPole-v1"):
        for bad in (0, -3, 2.5, True):
            with pytest.raises(ValueError, match=r"^episode_length must be an int >= 1 or None, got"):
                make_host(name, 2, episode_length=bad)


def test_specs_compare_and_hash_by_value():
    a, b = jaxrl.make("CartPole-v1").spec(), jaxrl.make("CartPole-v1").spec()
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert types.Box(-1.0, 1.0, (2,)) == types.Box(-1.0, 1.0, (2,))
    assert types.Box(-1.0, 1.0, (2,)) != types.Box(-1.0, 2.0, (2,))
    assert jaxrl.make("Pendulum-v1").spec() != a
