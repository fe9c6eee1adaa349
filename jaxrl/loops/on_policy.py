"""The generic on-policy program: roll out a vmapped environment batch with `lax.scan`, hand
the time-major trajectory to the agent's `update`, and scan that over iterations.

This is the loop of A2C/PPO-style agents (Mnih et al. 2016; Schulman et al. 2017); the agent
supplies only `init`, `act` and `update`.
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp

from jaxrl import prng
from jaxrl.envs.base import Environment
from jaxrl.loops import common
from jaxrl.loops.common import Train, TrainState
from jaxrl.loops.evaluate import make_evaluate
from jaxrl.types import Agent, Metrics, PRNGKey, Transition


def rollout(
    env: Environment,
    agent: Agent,
    agent_state: Any,
    env_state: Any,
    observation: Any,
    key: PRNGKey,
    length: int,
    env_steps: jax.Array | None = None,
) -> tuple[Any, Any, Transition, dict[str, jax.Array]]:
    """Steps the batched `env` `length` times with `agent.act`.

    `env_steps`, the env steps taken before this rollout, is what `act` is told (int32 0 if
    None); on-policy agents act from their current policy alone, so it is not advanced per step.

    Returns the final env state and observation, the time-major `Transition` batch
    ([length, num_envs, ...]) and the per-step episode statistics and LAST flags.

    Random draws use `prng.fast_key(key)`: the same bits as `key`, hashed in fused kernels.
    """
    key = prng.fast_key(key)

    def step(carry, step_key):
        env_state, observation = carry
        act_key, env_key = jax.random.split(step_key)
        action, extras = agent.act(agent_state, observation, act_key, False, env_steps)
        env_state, timestep = env.step(env_state, action, env_key)
        last = timestep.last()
        transition = Transition(
            observation=observation,
            action=action,
            reward=timestep.reward,
            discount=timestep.discount,
            last=last,
            next_observation=timestep.extras["next_observation"],
            extras=extras,
        )
        stats = {
            "last": last,
            "episode_return": timestep.extras["episode_return"],
            "episode_length": timestep.extras["episode_length"],
        }
        return (env_state, timestep.observation), (transition, stats)

    if env_steps is None:
        env_steps = jnp.zeros((), jnp.int32)
    (env_state, observation), (trajectory, stats) = jax.lax.scan(
        step, (env_state, observation), jax.random.split(key, length)
    )
    return env_state, observation, trajectory, stats


def make_train(
    env: Environment,
    agent: Agent,
    *,
    rollout_length: int,
    num_iterations: int,
    default_hparams: Any,
    config: Any = None,
    eval_env: Environment | None = None,
) -> Train:
    """Builds the on-policy `Train` program for a batched, auto-resetting `env` and an `agent`.

    Args:
      env: a batched environment with `AutoReset` and `EpisodeStatistics` (`envs.batched`).
      agent: the agent's pure functions; `update` receives a time-major `Transition` batch.
      rollout_length: environment steps per env per iteration.
      num_iterations: iterations of `train(key)`.
      default_hparams: the hparams `train(key)` uses when none are given.
      eval_env: a batched environment of separate instances for `Train.evaluate` (one greedy
        episode per env), or None.
    """
    spec = env.spec()
    if spec.num_envs is None:
        raise ValueError("on_policy.make_train needs a batched environment (jaxrl.envs.batched)")
    num_envs = spec.num_envs
    steps_per_iteration = rollout_length * num_envs

    def init(key: PRNGKey, hparams: Any) -> TrainState:
        key, env_key, agent_key = jax.random.split(key, 3)
        env_state, timestep = env.reset(env_key)
        common.check_timestep_extras(timestep)
        agent_state = agent.init(agent_key, spec, hparams)
        return common.first_state(agent_state, env_state, timestep.observation, None, key, hparams)

    def iteration(state: TrainState) -> tuple[TrainState, Metrics]:
        key, rollout_key, update_key = prng.split(state.key, 3)
        env_state, observation, trajectory, stats = rollout(
            env, agent, state.agent_state, state.env_state, state.observation, rollout_key, rollout_length,
            state.env_steps,
        )
        chex.assert_shape(trajectory.reward, (rollout_length, num_envs))
        agent_state, agent_metrics = agent.update(
            state.agent_state, trajectory, prng.fast_key(update_key), state.hparams
        )
        return common.end_iteration(
            state,
            agent_state=agent_state,
            env_state=env_state,
            observation=observation,
            buffer_state=state.buffer_state,
            key=key,
            env_steps=state.env_steps + steps_per_iteration,
            last=stats["last"],
            returns=stats["episode_return"],
            lengths=stats["episode_length"],
            learner_metrics=agent_metrics,
        )

    evaluate = None if eval_env is None else make_evaluate(eval_env, agent)
    return Train(init, iteration, num_iterations, default_hparams, config, steps_per_iteration, evaluate)
