"""The generic on-policy program: roll out a vmapped environment batch with `lax.scan`, hand
the time-major trajectory to the agent's `update`, and scan that over iterations.

This is the loop of A2C/PPO-style agents (Mnih et al. 2016; Schulman et al. 2017); the agent
supplies only `init`, `act` and `update`.
"""

from __future__ import annotations

from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp

from jaxrl import prng, tricks
from jaxrl.envs.base import Environment
from jaxrl.loops import common
from jaxrl.loops.common import Train, TrainState
from jaxrl.loops.evaluate import training_evaluate
from jaxrl.types import Agent, Array, Metrics, PRNGKey, PyTree, Transition

# Members of a vmapped population per chunk of the update on CPU (`tricks.population_chunks`).
# PPO at PureJaxRL's CartPole settings: the update's parameters, Adam moments, gradients and
# minibatch activations are ~0.3 MB per member, and a wide population outgrows the caches: on a
# 2-core host unchunked 128 seeds cost ~1.2x as much per seed as 32. Chunks of 8 measured best
# there at 32 and 128 seeds (chunks of 4, 16, 32 and none were slower; the rollout is left
# whole, chunking it too changed nothing measurable) (experiments/benchmarks/README.md). A
# population of one runs its update without the batch axis (PQN's update 2x faster on XLA:CPU).
POPULATION_CHUNK = 8


def rollout(
    env: Environment,
    agent: Agent,
    agent_state: Any,
    actor_state: Any,
    env_state: Any,
    observation: Any,
    key: PRNGKey,
    length: int,
    hparams: Any,
    env_steps: jax.Array | None = None,
) -> tuple[Any, Any, Any, Transition, dict[str, jax.Array]]:
    """Steps the batched `env` `length` times with `agent.act`.

    `env_steps`, the env steps taken before this rollout, is what `act` is told (int32 0 if
    None); on-policy agents act from their current policy alone, so it is not advanced per step.
    Each step passes through `agent.observe` before it is kept, then the actor state is reset
    (`agent.reset_actor`) where an episode ended.

    Returns the final actor state, env state and observation, the time-major `Transition` batch
    ([length, num_envs, ...]) and the per-step episode statistics and LAST flags.

    Random draws use `prng.fast_key(key)`: the same bits as `key`, hashed in fused kernels.
    """
    key = prng.fast_key(key)
    if env_steps is None:
        env_steps = jnp.zeros((), jnp.int32)

    def step(carry, step_key):
        actor_state, env_state, observation = carry
        act_key, env_key = jax.random.split(step_key)
        action, actor_state, extras = agent.act(agent_state, actor_state, observation, act_key, hparams, False,
                                                env_steps)
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
        actor_state, transition = agent.observe(actor_state, transition)
        actor_state = agent.reset_actor(actor_state, last)
        return (actor_state, env_state, timestep.observation), (transition, stats)

    (actor_state, env_state, observation), (trajectory, stats) = jax.lax.scan(
        step, (actor_state, env_state, observation), jax.random.split(key, length)
    )
    return actor_state, env_state, observation, trajectory, stats


def trajectory_values(
    value_fn: Callable[[PyTree], Array],
    observation: PyTree,
    next_observation: PyTree,
    last: Array,
    discount: Array,
    values: Array | None = None,
) -> tuple[Array, Array]:
    """V(s_t) and V(s'_t) for a time-major trajectory, evaluating `value_fn` on few extra rows.

    `observation` and `next_observation` are [T, N, ...] pytrees (`Transition` fields); `last`
    and `discount` are [T, N]. The true successor s'_t is the next stored observation s_{t+1}
    except where an episode ended (the env auto-reset) and at t = T - 1. So `value_fn` runs once
    on the T * N observations plus the N final successors, and again, in a `while_loop` over
    chunks of N rows, only on the successors of steps that were truncated (LAST with a nonzero
    discount). After a termination (discount 0) V(s'_t) is multiplied by 0 in every target, so it
    is left as V(s_{t+1}), the reset observation's value. Under `vmap` the loop runs as many
    rounds as the member with the most truncations needs, typically 0 or 1: about half the rows
    of one `value_fn` call over [s; s'].

    `values` [T, N], if given, are V(s_t) already computed (e.g. by the actor, from the same
    parameters): then `value_fn` runs only on the N final successors and the truncated ones.

    Returns:
      (values, next_values), each [T, N].
    """
    chex.assert_rank(last, 2)
    chex.assert_equal_shape([last, discount])
    rollout_length, num_envs = last.shape
    size = rollout_length * num_envs
    flat = lambda x: jnp.reshape(x, (size,) + x.shape[2:])  # noqa: E731
    final = jax.tree.map(lambda x: x[-1], next_observation)
    if values is None:
        rows = jax.tree.map(lambda o, f: jnp.concatenate([flat(o), f]), observation, final)
        all_values = value_fn(rows)
    else:
        chex.assert_shape(values, (rollout_length, num_envs))
        all_values = jnp.concatenate([values.reshape(size), value_fn(final)])
    if all_values.shape != (size + num_envs,):
        raise ValueError(f"value_fn must map [B, ...] observations to [B] values, got {all_values.shape}")
    values = all_values[:size]
    next_values = all_values[num_envs:]  # V(s_{t+1}); the last N rows are V(s'_{T-1})
    # Successors still to evaluate: truncated steps before the last one.
    pending = jnp.logical_and(last, discount != 0).at[-1].set(False).reshape(size)
    next_flat = jax.tree.map(flat, next_observation)

    def evaluate_chunk(carry):
        next_values, pending = carry
        # Fill slots get index `size`, out of bounds: their rows are clamped reads and dropped writes.
        (index,) = jnp.nonzero(pending, size=num_envs, fill_value=size)
        chunk = jax.tree.map(lambda x: jnp.take(x, index, axis=0, mode="clip"), next_flat)
        next_values = next_values.at[index].set(value_fn(chunk), mode="drop")
        return next_values, pending.at[index].set(False, mode="drop")

    next_values, _ = jax.lax.while_loop(lambda carry: jnp.any(carry[1]), evaluate_chunk, (next_values, pending))
    return values.reshape(rollout_length, num_envs), next_values.reshape(rollout_length, num_envs)


def learner(agent: Agent, rollout_length: int, num_envs: int) -> Callable[..., tuple[TrainState, Metrics]]:
    """The second half of an on-policy iteration, after the rollout: `learn(state, key, update_key,
    actor_state, env_state, observation, trajectory, stats) -> (state, metrics)` runs the agent's
    update on the time-major `trajectory` ([rollout_length, num_envs]) and ends the iteration
    (counters, episode metrics, the actor's sync). Shared by the compiled loop and the host loop
    (`loops.host`), whose rollout steps environments outside the program."""
    # The rollout is left whole: it gains from a wide batch (per member, 128 seeds' costs ~0.85x
    # 32 seeds'), while the update's working set is the one that outgrows the caches.
    update = tricks.population_chunks(agent.update, POPULATION_CHUNK)
    steps_per_iteration = rollout_length * num_envs

    def learn(state: TrainState, key: PRNGKey, update_key: PRNGKey, actor_state: Any, env_state: Any,
              observation: Any, trajectory: Transition, stats: dict[str, Array]) -> tuple[TrainState, Metrics]:
        chex.assert_shape(trajectory.reward, (rollout_length, num_envs))
        agent_state, agent_metrics = update(state.agent_state, trajectory, prng.fast_key(update_key), state.hparams)
        return common.end_iteration(
            state,
            agent_state=agent_state,
            actor_state=agent.sync_actor(actor_state, agent_state),
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

    return learn


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
        episode per env), without observation normalisation (evaluation normalises with the
        training statistics of `env`'s state, if `env` normalises), or None.
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
        actor_state = agent.init_actor(agent_state, num_envs)
        return common.first_state(agent_state, actor_state, env_state, timestep.observation, None, key, hparams)

    learn = learner(agent, rollout_length, num_envs)

    def iteration(state: TrainState) -> tuple[TrainState, Metrics]:
        key, rollout_key, update_key = prng.split(state.key, 3)
        actor_state, env_state, observation, trajectory, stats = rollout(
            env, agent, state.agent_state, state.actor_state, state.env_state, state.observation, rollout_key,
            rollout_length, state.hparams, state.env_steps,
        )
        return learn(state, key, update_key, actor_state, env_state, observation, trajectory, stats)

    return Train(init, iteration, num_iterations, default_hparams, config, steps_per_iteration,
                 training_evaluate(eval_env, agent, env))
