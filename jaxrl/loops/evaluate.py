"""Evaluation: the agent's greedy/deterministic policy on separate environments.

`make_evaluate(env, agent)` returns `evaluate(state, key) -> eval_return`: one episode in each
env of a batched evaluation environment (its own instances, never the training envs, so
training is not disturbed), `agent.act(..., eval=True)`, and the mean undiscounted return of
those episodes. It is a pure function of the `TrainState`, so the driver can call it between
compiled chunks (`jax.vmap` over a population) and a user can call it on any checkpoint.

Where training normalises observations, the evaluation envs do not: their raw observations are
normalised with the statistics in the training state's `env_state` (`envs.training_normalizer`),
the ones the agent learned on, rather than with fresh statistics of a few evaluation episodes.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxrl.envs.base import Environment
from jaxrl.envs.wrappers import NormalizeObservation, find_wrapper, training_normalizer
from jaxrl.loops.common import TrainState
from jaxrl.types import Agent, Array, PRNGKey


def make_evaluate(
    env: Environment,
    agent: Agent,
    max_steps: int | None = None,
    normalize_observation: Callable[[Any, Array], Array] | None = None,
) -> Callable[[TrainState, PRNGKey], Array]:
    """`evaluate(state, key)`: the mean return of one greedy episode per env of `env`.

    Args:
      env: a batched environment without observation normalisation
        (`envs.make_batched(name, num_episodes)`); each of its envs plays one episode.
      agent: the agent whose `act(agent_state, actor_state, observation, key, hparams, True, env_steps)`
        is greedy; its actor state starts fresh (`init_actor`) for the evaluation envs.
      max_steps: a cap on episode length; default the env's time limit. An episode still
        running at the cap counts with the return it has so far.
      normalize_observation: `(env_state, observation) -> observation` applied before `act` with
        the training state's `state.env_state` (`envs.training_normalizer(training_env)`), or None
        where training does not normalise.
    """
    spec = env.spec()
    if spec.num_envs is None:
        raise ValueError("make_evaluate needs a batched environment (jaxrl.envs.make_batched)")
    if find_wrapper(env, NormalizeObservation) is not None:
        raise ValueError("make_evaluate: the evaluation env normalises observations with fresh statistics of its "
                         "own; build it without normalisation and pass normalize_observation="
                         "envs.training_normalizer(training_env) to use the training statistics")
    max_steps = spec.max_episode_steps if max_steps is None else max_steps
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"evaluation needs a cap on episode length, max_steps >= 1, got {max_steps!r}: the env "
                         f"{spec.name} has no time limit; give it one (an agent Config's episode_length, or the "
                         f"spec's max_episode_steps) or pass max_steps")

    def evaluate(state: TrainState, key: PRNGKey) -> Array:
        def observe(observation):
            if normalize_observation is None:
                return observation
            return normalize_observation(state.env_state, observation)

        reset_key, key = jax.random.split(key)
        env_state, timestep = env.reset(reset_key)
        num_envs = spec.num_envs
        done = jnp.zeros((num_envs,), jnp.bool_)
        returns = jnp.zeros((num_envs,), jnp.float32)
        actor_state = agent.init_actor(state.agent_state, num_envs)

        def running(carry):
            done, step = carry[3], carry[5]
            return (step < max_steps) & ~jnp.all(done)

        def step_fn(carry):
            actor_state, env_state, observation, done, returns, step, key = carry
            key, act_key, env_key = jax.random.split(key, 3)
            action, actor_state, _ = agent.act(state.agent_state, actor_state, observe(observation), act_key,
                                               state.hparams, True, state.env_steps)
            env_state, timestep = env.step(env_state, action, env_key)
            # Only each env's first episode counts; later ones (after auto-reset) are ignored.
            returns = returns + jnp.where(done, 0.0, timestep.reward)
            done = done | timestep.last()
            actor_state = agent.reset_actor(actor_state, timestep.last())
            return actor_state, env_state, timestep.observation, done, returns, step + 1, key

        carry = (actor_state, env_state, timestep.observation, done, returns, jnp.zeros((), jnp.int32), key)
        returns = jax.lax.while_loop(running, step_fn, carry)[4]
        return jnp.mean(returns)

    return evaluate


def training_evaluate(eval_env: Environment | None, agent: Agent,
                      training_env: Environment) -> Callable[[TrainState, PRNGKey], Array] | None:
    """A loop's `Train.evaluate`: `make_evaluate` on `eval_env`, normalising observations with the
    statistics of `training_env`'s state where training normalises them; None without `eval_env`."""
    if eval_env is None:
        return None
    return make_evaluate(eval_env, agent, normalize_observation=training_normalizer(training_env))


__all__ = ["make_evaluate", "training_evaluate"]
