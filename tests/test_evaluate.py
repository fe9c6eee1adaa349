"""Greedy evaluation on separate envs: one episode per env, only the first episode counted."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import pytest

from jaxrl import envs
from jaxrl.agents import dqn
from jaxrl.loops.evaluate import make_evaluate
from jaxrl.types import Agent


class FakeState(NamedTuple):
    """The TrainState fields evaluation reads."""

    agent_state: Any
    hparams: Any
    env_steps: jax.Array


def constant_agent(action: int) -> Agent:
    def act(state, actor_state, observation, key, hparams, eval=False, env_steps=None):
        assert eval  # evaluation always asks for the greedy action
        return jnp.full((observation.shape[0],), action, jnp.int32), actor_state, {}

    return Agent(init=None, act=act, update=None)


def test_evaluate_counts_one_episode_per_env():
    # Always pushing right topples CartPole in ~8-11 steps with reward 1 per step; the while loop
    # keeps stepping (auto-resetting) until every env has finished, but later episodes are not
    # counted, so the mean return equals the mean first-episode length.
    env = envs.make_batched("CartPole-v1", 6)
    evaluate = jax.jit(make_evaluate(env, constant_agent(1)))
    state = FakeState(agent_state=None, hparams=None, env_steps=jnp.int32(0))
    ret = float(evaluate(state, jax.random.key(0)))
    assert 7 <= ret <= 12
    # Deterministic for a key; different envs for another key.
    assert float(evaluate(state, jax.random.key(0))) == ret


def test_evaluate_caps_episodes_at_max_steps():
    env = envs.make_batched("Pendulum-v1", 3)  # never terminates; truncated at 200 steps
    def act(state, actor_state, observation, key, hparams, eval=False, env_steps=None):
        return jnp.zeros((observation.shape[0], 1)), actor_state, {}
    evaluate = make_evaluate(env, Agent(None, act, None), max_steps=5)
    state = FakeState(agent_state=None, hparams=None, env_steps=jnp.int32(0))
    ret = float(jax.jit(evaluate)(state, jax.random.key(0)))
    assert -16.3 * 5 <= ret < 0  # 5 steps of reward in [-16.3, 0]


def test_train_program_exposes_evaluate_of_its_greedy_policy():
    config = dqn.Config(total_timesteps=400, steps_per_iteration=200, learning_starts=200, buffer_size=300,
                        batch_size=16, target_update_every=100, eval_episodes=4)
    train = dqn.make_train(config)
    state = jax.jit(train.init)(jax.random.key(0))
    ret = jax.jit(jax.vmap(train.evaluate))(jax.tree.map(lambda x: x[None], state), jax.random.key(1)[None])
    assert ret.shape == (1,) and 8 <= float(ret[0]) <= 500


def test_evaluate_needs_a_batched_env_with_a_time_limit():
    with pytest.raises(ValueError, match="batched"):
        make_evaluate(envs.make("CartPole-v1"), constant_agent(0))
