"""The generic off-policy program: act in a vmapped environment batch, write the experience to a
replay buffer, and after a warm-up sample it and update every `train_every` steps, all inside one
compiled `lax.scan` (DQN's loop, Mnih et al. 2015; Acme's actor -> adder -> replay -> learner
pipeline, Hoffman et al. 2020, without processes).

An iteration is `periods_per_iteration` update periods; a period is `period_steps` steps of every
env followed by `updates_per_period` learner updates, each on its own sampled batch. Update
periods are static, so no `lax.cond` decides per step whether to learn; only the warm-up is a
condition. The agent supplies `init`, `act` and `update`; the loop owns the buffer.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxrl.envs.base import Environment
from jaxrl.loops import common
from jaxrl.loops.common import Train, TrainState
from jaxrl.loops.evaluate import training_evaluate
from jaxrl.replay import ReplayBuffer, SequenceAdder, n_step
from jaxrl.types import Agent, Array, Metrics, PRNGKey, Transition

# The metric an agent's `update` reports to reprioritise its batch; the loop takes it out.
PRIORITIES = "priorities"


class ReplayBatch(NamedTuple):
    """What an off-policy agent's `update` learns from.

    Attributes:
      transitions: a `Transition` with a leading batch axis [B, ...] (with a sequence adder, a
        `replay.Sequence` of [B, length, ...] steps instead). With n-step returns
        (`n_step > 1`) `reward` is the discounted n-step return and `discount` the whole
        bootstrap factor gamma^m * prod(discounts), gamma included (see `replay.n_step`);
        with `n_step == 1` `discount` is the environment's and the learner multiplies gamma.
      weights: float32 [B], importance weights to multiply into per-item losses (ones unless
        the buffer is prioritized).
    """

    transitions: Transition
    weights: Array


def bootstrap_discount(transitions: Transition, gamma: Array, n_step_length: int) -> Array:
    """The factor multiplying V(next_observation) in a replayed transition's target: n-step
    transitions already carry gamma^m * prod(discounts); 1-step ones carry the env's discount."""
    return transitions.discount if n_step_length > 1 else gamma * transitions.discount


class LoopState(NamedTuple):
    """What the off-policy loop keeps besides the agent: buffer, n-step window and the steps that
    the next sequences begin with (with a sequence adder).

    Stored in `TrainState.buffer_state`, so a checkpoint of the `TrainState` holds it.
    """

    replay: Any
    n_step: n_step.NStepState | None
    sequences: Any = None


def replay_update(agent: Agent, buffer: ReplayBuffer, hparams: Any, carry: tuple[Any, Any, Metrics],
                  key: PRNGKey) -> tuple[Any, Any, Metrics]:
    """One learner update on a batch sampled from `buffer`: `carry` is (agent_state, replay_state,
    metric_sums). The batch is reprioritised with the update's `metrics["priorities"]` if the
    buffer has priorities, and the update's other metrics are added to `metric_sums`, one update
    after another (a fixed order of additions, so an iteration's means do not depend on how a
    compiled program would reduce a stacked axis: chunked and one-call runs agree bit for bit).
    The off-policy and the offline loops' update step."""
    agent_state, replay_state, metric_sums = carry
    sample_key, update_key = jax.random.split(key)
    transitions, info = buffer.sample(replay_state, sample_key)
    agent_state, metrics = agent.update(agent_state, ReplayBatch(transitions, info.weights), update_key, hparams)
    priorities = metrics.pop(PRIORITIES, None)
    if buffer.update_priorities is not None:
        if priorities is None:
            raise ValueError(
                f"the buffer is prioritized, but the agent's update reports no "
                f"metrics[{PRIORITIES!r}] to reprioritise its batch with"
            )
        replay_state = buffer.update_priorities(replay_state, info.indices, priorities)
    metric_sums = jax.tree.map(jnp.add, metric_sums, metrics)
    return agent_state, replay_state, metric_sums


def zero_update_metrics(agent: Agent, buffer: ReplayBuffer, agent_state: Any, replay_state: Any, key: PRNGKey,
                        hparams: Any) -> Metrics:
    """Zeros shaped like one update's metrics (without priorities): traced, not run."""

    def one_update_metrics():
        transitions, info = buffer.sample(replay_state, key)
        _, metrics = agent.update(agent_state, ReplayBatch(transitions, info.weights), key, hparams)
        metrics.pop(PRIORITIES, None)
        return metrics

    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(one_update_metrics))


def first_loop_state(buffer: ReplayBuffer, adder: SequenceAdder | None, example: Transition, num_envs: int,
                     window: n_step.NStepState | None = None) -> LoopState:
    """The loop's storage at the start of a run, for stored steps shaped like `example` (one env's
    `Transition`, no batch axis): the empty buffer (of sequence items through `adder`, if given),
    the n-step `window` and the adder's state. Shared by the compiled and the host loop."""
    sequences, item = None, example
    if adder is not None:
        sequences = adder.init(example, num_envs)
        # One sequence item (no batch axis), for the buffer's storage: traced, not pushed.
        steps = jax.tree.map(lambda x: jnp.zeros((adder.period, num_envs) + x.shape, x.dtype), example)
        items = jax.eval_shape(lambda: adder.push(sequences, steps)[1])
        item = jax.tree.map(lambda x: jnp.zeros(x.shape[1:], x.dtype), items)
    return LoopState(replay=buffer.init(item), n_step=window, sequences=sequences)


def store_and_learn(agent: Agent, buffer: ReplayBuffer, adder: SequenceAdder | None, hparams: Any, agent_state: Any,
                    actor_state: Any, loop_state: LoopState, transitions: Transition, env_steps: Array,
                    metric_sums: Metrics, key: PRNGKey, *, updates_per_period: int,
                    warmup_steps: int) -> tuple[Any, Any, LoopState, Metrics, Array]:
    """The end of an update period: write its steps `transitions` ([period_steps, num_envs], or
    through `adder` as sequences) to the buffer, then, once the warm-up is over and the buffer can
    be sampled, take `updates_per_period` updates (`replay_update`, each on a fresh batch) and sync
    the actor. `env_steps` counts the steps taken including this period's. Shared by the compiled
    loop and the host loop (`loops.host`). Returns (agent_state, actor_state, loop_state,
    metric_sums, number of updates taken)."""
    period_steps, num_envs = jax.tree.leaves(transitions.reward)[0].shape[:2]
    sequences = loop_state.sequences
    if adder is None:
        # All of the period's steps in one write: [period_steps, num_envs] -> [period_steps * num_envs].
        items = jax.tree.map(lambda x: jnp.reshape(x, (period_steps * num_envs,) + x.shape[2:]), transitions)
    else:
        sequences, items = adder.push(sequences, transitions)
    replay_state = buffer.add(loop_state.replay, items)
    # Learn once the warm-up is over and the buffer can be sampled. Under vmap this `cond`
    # becomes a select (both branches run); only the warm-up's updates are wasted by that.
    ready = (env_steps > warmup_steps * num_envs) & buffer.can_sample(replay_state)
    if updates_per_period > 0:

        def learn_and_sync():
            carry = (agent_state, replay_state, metric_sums)
            if updates_per_period == 1:
                carry = replay_update(agent, buffer, hparams, carry, key)
            else:
                carry = jax.lax.scan(lambda c, k: (replay_update(agent, buffer, hparams, c, k), None), carry,
                                     jax.random.split(key, updates_per_period))[0]
            new_agent_state, new_replay_state, new_sums = carry
            return new_agent_state, agent.sync_actor(actor_state, new_agent_state), new_replay_state, new_sums

        agent_state, actor_state, replay_state, metric_sums = jax.lax.cond(
            ready, learn_and_sync, lambda: (agent_state, actor_state, replay_state, metric_sums))
    num_updates = jnp.where(ready, updates_per_period, 0)
    return agent_state, actor_state, loop_state._replace(replay=replay_state, sequences=sequences), metric_sums, \
        num_updates


def end_iteration(state: TrainState, agent_state: Any, actor_state: Any, env_state: Any, observation: Any,
                  loop_state: LoopState, key: PRNGKey, env_steps: Array, stats: tuple[Array, Array, Array],
                  metric_sums: Metrics, num_updates: Array) -> tuple[TrainState, Metrics]:
    """An off-policy iteration's new state and metrics: `stats` are the per-step (last,
    episode_return, episode_length), `metric_sums` the learner metrics summed over the
    `num_updates` (per period) updates taken, reported as their mean (0 if none) beside
    `updates`, their number."""
    last, returns, lengths = stats
    total_updates = jnp.sum(num_updates)
    agent_metrics = jax.tree.map(lambda m: m / jnp.maximum(total_updates, 1).astype(m.dtype), metric_sums)
    return common.end_iteration(
        state,
        agent_state=agent_state,
        actor_state=actor_state,
        env_state=env_state,
        observation=observation,
        buffer_state=loop_state,
        key=key,
        env_steps=env_steps,
        last=last,
        returns=returns,
        lengths=lengths,
        learner_metrics={"updates": total_updates, **agent_metrics},
    )


def make_train(
    env: Environment,
    agent: Agent,
    buffer: ReplayBuffer,
    *,
    num_iterations: int,
    periods_per_iteration: int,
    period_steps: int = 1,
    updates_per_period: int = 1,
    warmup_steps: int = 0,
    n_step_length: int = 1,
    adder: SequenceAdder | None = None,
    default_hparams: Any,
    config: Any = None,
    eval_env: Environment | None = None,
) -> Train:
    """Builds the off-policy `Train` program.

    Args:
      env: a batched environment with `AutoReset` and `EpisodeStatistics` (`envs.batched`).
      agent: the agent's pure functions. `act(agent_state, actor_state, observation, key, hparams,
        eval, env_steps)` explores when `eval` is False (`env_steps`, an int32 scalar, lets it
        follow a schedule);
        `update(agent_state, ReplayBatch, key, hparams) -> (agent_state, metrics)`, where
        `metrics` may hold `"priorities"` [B] for a buffer with `update_priorities`.
      buffer: holds `Transition`s without a batch axis (e.g. `replay.uniform(...)`).
      num_iterations: iterations of `train(key)`; each is one row of metrics.
      periods_per_iteration: update periods per iteration.
      period_steps: steps of every env per update period.
      updates_per_period: learner updates per update period.
      warmup_steps: steps of every env, from the start of the run, taken with uniformly random
        actions and without updates (the updates of a period that ends at or before it are
        skipped), so the buffer holds varied data before learning starts.
      n_step_length: n of n-step returns; the buffer then receives n-step transitions (which
        needs `hparams.gamma`). `init` takes the first n - 1 steps of every env (random
        actions) to fill the window, so `env_steps` starts at (n - 1) * num_envs.
      adder: a `replay.sequence_adder`, or None: the buffer then receives sequences of steps
        (`replay.Sequence`, R2D2's items), `period_steps` must be a multiple of its period, and
        n-step returns are the agent's to compute inside the sequences (`n_step_length` 1).
      default_hparams: the hparams `train(key)` uses when none are given.
      eval_env: a batched environment of separate instances for `Train.evaluate` (one greedy
        episode per env), without observation normalisation (evaluation normalises with the
        training statistics of `env`'s state, if `env` normalises), or None.
    """
    spec = env.spec()
    if spec.num_envs is None:
        raise ValueError("off_policy.make_train needs a batched environment (jaxrl.envs.batched)")
    for name, value, minimum in (
        ("num_iterations", num_iterations, 0),
        ("periods_per_iteration", periods_per_iteration, 1),
        ("period_steps", period_steps, 1),
        ("updates_per_period", updates_per_period, 0),
        ("warmup_steps", warmup_steps, 0),
        ("n_step_length", n_step_length, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"off_policy.make_train: {name} must be an int >= {minimum}, got {value!r}")
    if adder is not None:
        if n_step_length != 1:
            raise ValueError(f"off_policy.make_train: with a sequence adder n_step_length must be 1 (the agent "
                             f"computes n-step targets inside its sequences), got {n_step_length}")
        if period_steps % adder.period:
            raise ValueError(f"off_policy.make_train: period_steps ({period_steps}) must be a multiple of the "
                             f"sequence adder's period ({adder.period}), so that every update period emits "
                             f"whole sequences")
    num_envs = spec.num_envs
    steps_per_iteration = periods_per_iteration * period_steps * num_envs
    prefill_steps = n_step_length - 1

    def random_actions(key: PRNGKey) -> Array:
        return jax.vmap(spec.action.sample)(jax.random.split(key, num_envs))

    def env_step(env_state, observation, action, key, extras):
        env_state, timestep = env.step(env_state, action, key)
        transition = Transition(
            observation=observation,
            action=action,
            reward=timestep.reward,
            discount=timestep.discount,
            last=timestep.last(),
            next_observation=timestep.extras["next_observation"],
            extras=extras,
        )
        return env_state, timestep, transition

    def gamma_of(hparams: Any) -> Array:
        if not hasattr(hparams, "gamma"):
            raise ValueError("n-step returns need the agent's hparams to have a `gamma` field")
        return hparams.gamma

    def init(key: PRNGKey, hparams: Any) -> TrainState:
        key, env_key, agent_key, prefill_key = jax.random.split(key, 4)
        env_state, timestep = env.reset(env_key)
        common.check_timestep_extras(timestep)
        observation = timestep.observation
        agent_state = agent.init(agent_key, spec, hparams)
        actor_state = agent.init_actor(agent_state, num_envs)
        # One env's transition (no batch axis), with the actor's extras, for the storage's shapes:
        # traced, not stepped.
        def first_transition():
            _, _, extras = agent.act(agent_state, actor_state, observation, prefill_key, hparams, False,
                                     jnp.zeros((), jnp.int32))
            return env_step(env_state, observation, random_actions(prefill_key), prefill_key, extras)[2]

        example = jax.tree.map(lambda x: jnp.zeros(x.shape[1:], x.dtype), jax.eval_shape(first_transition))
        window = None
        if n_step_length > 1:
            window = n_step.init(example, num_envs, n_step_length)

            # Fill the n-step window, so that every later step emits a complete transition (random
            # actions, with zeros for the actor's extras).
            no_extras = jax.tree.map(lambda x: jnp.zeros((num_envs,) + x.shape, x.dtype), example.extras)

            def prefill(carry, step_key):
                actor_state, env_state, observation, window = carry
                action_key, step_key = jax.random.split(step_key)
                env_state, timestep, transition = env_step(
                    env_state, observation, random_actions(action_key), step_key, no_extras
                )
                actor_state, transition = agent.observe(actor_state, transition)
                window, _, _ = n_step.push(window, transition, gamma_of(hparams))
                actor_state = agent.reset_actor(actor_state, timestep.last())
                return (actor_state, env_state, timestep.observation, window), None

            (actor_state, env_state, observation, window), _ = jax.lax.scan(
                prefill, (actor_state, env_state, observation, window), jax.random.split(prefill_key, prefill_steps)
            )
        buffer_state = first_loop_state(buffer, adder, example, num_envs, window)
        return common.first_state(agent_state, actor_state, env_state, observation, buffer_state, key, hparams,
                                  env_steps=prefill_steps * num_envs)

    def act_step(state: TrainState, carry, step_key):
        """One step of every env: act (randomly during warm-up), step, push to the n-step window."""
        actor_state, env_state, observation, window, env_steps = carry
        act_key, random_key, env_key = jax.random.split(step_key, 3)
        action, actor_state, extras = agent.act(state.agent_state, actor_state, observation, act_key,
                                                state.hparams, False, env_steps)
        warm = env_steps < warmup_steps * num_envs
        # A cond, not a select: a single run draws no random actions after the warm-up (under
        # vmap it becomes a select again).
        action = jax.lax.cond(warm, lambda: random_actions(random_key), lambda: action)
        env_state, timestep, transition = env_step(env_state, observation, action, env_key, extras)
        actor_state, transition = agent.observe(actor_state, transition)
        if window is not None:
            window, transition, _ = n_step.push(window, transition, gamma_of(state.hparams))
        stats = (timestep.last(), timestep.extras["episode_return"], timestep.extras["episode_length"])
        actor_state = agent.reset_actor(actor_state, timestep.last())
        carry = (actor_state, env_state, timestep.observation, window, env_steps + num_envs)
        return carry, (transition, stats)

    def zero_metrics(state: TrainState) -> Metrics:
        if updates_per_period == 0:
            return {}
        return zero_update_metrics(agent, buffer, state.agent_state, state.buffer_state.replay, state.key,
                                   state.hparams)

    def period(state: TrainState, carry, period_key):
        agent_state, actor_state, env_state, observation, loop_state, env_steps, metric_sums = carry
        act_key, learn_key = jax.random.split(period_key)
        acting = (actor_state, env_state, observation, loop_state.n_step, env_steps)
        acting_state = state.replace(agent_state=agent_state)
        if period_steps == 1:
            acting, (transitions, stats) = act_step(acting_state, acting, act_key)
            transitions, stats = jax.tree.map(lambda x: x[None], (transitions, stats))
        else:
            acting, (transitions, stats) = jax.lax.scan(
                lambda c, k: act_step(acting_state, c, k), acting, jax.random.split(act_key, period_steps)
            )
        actor_state, env_state, observation, window, env_steps = acting
        agent_state, actor_state, loop_state, metric_sums, num_updates = store_and_learn(
            agent, buffer, adder, state.hparams, agent_state, actor_state, loop_state._replace(n_step=window),
            transitions, env_steps, metric_sums, learn_key, updates_per_period=updates_per_period,
            warmup_steps=warmup_steps)
        carry = (agent_state, actor_state, env_state, observation, loop_state, env_steps, metric_sums)
        return carry, (stats, num_updates)

    def iteration(state: TrainState) -> tuple[TrainState, Metrics]:
        key, periods_key = jax.random.split(state.key)
        carry = (state.agent_state, state.actor_state, state.env_state, state.observation, state.buffer_state,
                 state.env_steps, zero_metrics(state))
        carry, (stats, num_updates) = jax.lax.scan(
            lambda c, k: period(state, c, k), carry, jax.random.split(periods_key, periods_per_iteration)
        )
        agent_state, actor_state, env_state, observation, loop_state, env_steps, metric_sums = carry
        chex.assert_shape(stats[0], (periods_per_iteration, period_steps, num_envs))
        return end_iteration(state, agent_state, actor_state, env_state, observation, loop_state, key, env_steps,
                             stats, metric_sums, num_updates)

    return Train(init, iteration, num_iterations, default_hparams, config, steps_per_iteration,
                 training_evaluate(eval_env, agent, env))


__all__ = ["PRIORITIES", "LoopState", "ReplayBatch", "bootstrap_discount", "end_iteration", "first_loop_state",
           "make_train", "replay_update", "store_and_learn", "zero_update_metrics"]
