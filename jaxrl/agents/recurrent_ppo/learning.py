"""Recurrent PPO's learner: PPO's clipped objective (Schulman et al. 2017) on whole env sequences,
each unrolled from the core state stored when it was collected (optionally refreshed by a burn-in,
Kapturowski et al. 2019), on the generic on-policy loop.

The actor keeps the core's state per env in its actor state (zeroed where an episode ends), and
stores the state it acted from with every transition. The update unrolls each env's rollout once
for values, bootstraps a truncated episode from its true final observation seen with the
episode's memory, and then takes PPO's minibatch steps over shuffled whole sequences.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxrl import networks
from jaxrl.agents import builder
from jaxrl.agents.ppo import AgentState, Minibatch, optimizer, ppo_objective, training_batch
from jaxrl.agents.recurrent_ppo.config import Config, HParams
from jaxrl.agents.recurrent_ppo.networks import RecurrentActorCritic, make_network
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition


# The core's state per env, zeroed where an episode ends (the kit's recurrent actor).
ActorState = builder.RecurrentActorState
episode_starts = networks.episode_starts


class Sequences(NamedTuple):
    """Training sequences, leading axis S: PPO's minibatch fields [S, L, ...], where each episode
    starts [S, L], the stored core state at each sequence's start (or its burn-in's) [S, H], and
    the burn-in steps before it, with which of them lie inside the rollout [S, B]."""

    minibatch: Minibatch
    resets: Array
    initial: Any
    burn_in_observation: Any
    burn_in_resets: Array
    burn_in_active: Array


def to_sequences(x: Array, length: int) -> Array:
    """[T, N, ...] time-major rollout -> [N * T / length, length, ...] sequences, env-major within
    each chunk of `length` steps."""
    steps, envs = x.shape[:2]
    chunks = steps // length
    x = jnp.reshape(x, (chunks, length, envs) + x.shape[2:])
    x = jnp.swapaxes(x, 1, 2)  # [chunks, N, length, ...]
    return jnp.reshape(x, (chunks * envs, length) + x.shape[3:])


def burn_in_windows(x: Array, length: int, burn_in: int) -> tuple[Array, Array]:
    """The `burn_in` steps before each sequence of `to_sequences(x, length)`, [S, burn_in, ...], and
    whether each lies inside the rollout [S, burn_in] (the first sequences have none before them)."""
    steps, envs = x.shape[:2]
    starts = jnp.arange(0, steps, length)  # each chunk's first step
    index = starts[:, None] - burn_in + jnp.arange(burn_in)[None, :]  # [chunks, burn_in]
    active = index >= 0
    windows = jnp.take(x, jnp.clip(index, 0), axis=0)  # [chunks, burn_in, N, ...]
    windows = jnp.swapaxes(windows, 1, 2)
    active = jnp.broadcast_to(active[:, None, :], (starts.shape[0], envs, burn_in))
    flat = lambda y: jnp.reshape(y, (starts.shape[0] * envs,) + y.shape[2:])  # noqa: E731
    return flat(windows), flat(active)


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """Recurrent PPO's `Agent` bundle for an environment `spec`."""
    network = make_network(spec, config)
    length, burn_in = config.sequence_steps, config.burn_in

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        dummy = jnp.zeros((1, 1) + spec.observation.shape, jnp.float32)
        zero_state = networks.initial_carry(config.core, config.core_size, (1,))
        return builder.fresh_agent_state(network, optimizer(config, hparams), key, zero_state, dummy,
                                         jnp.zeros((1, 1), bool))

    init_actor, reset_actor = builder.recurrent_actor(config.core, config.core_size)

    def act(state: AgentState, actor_state: ActorState, observation: Array, key: PRNGKey, hparams: HParams,
            eval: bool = False, env_steps: Array | None = None):
        resets = jnp.zeros((1, observation.shape[0]), bool)  # reset_actor already zeroed new episodes
        carry, policy, _ = network.apply(state.params, actor_state.carry, observation[None], resets)
        if eval:
            return policy.greedy_action()[0], ActorState(carry), {}
        action = policy.sample(key)  # [1, B, ...]: one step of B envs
        # The state this step was acted from: the update unrolls each sequence from it.
        extras = {"log_prob": policy.log_prob(action)[0], "carry": actor_state.carry}
        return action[0], ActorState(carry), extras

    def sequence_loss(params: Any, sequences: Sequences, hparams: HParams) -> tuple[Array, Metrics]:
        carry = sequences.initial
        if burn_in:
            time_major = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731
            carry = network.apply(params, carry, time_major(sequences.burn_in_observation),
                                  time_major(sequences.burn_in_resets), time_major(sequences.burn_in_active),
                                  method=RecurrentActorCritic.burn_in)
            carry = jax.lax.stop_gradient(carry)
        minibatch = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), sequences.minibatch)  # [L, S', ...]
        _, policy, value = network.apply(params, carry, minibatch.observation, jnp.swapaxes(sequences.resets, 0, 1))
        return ppo_objective(config, policy, value, minibatch, hparams)

    def update(state: AgentState, trajectory: Transition, key: PRNGKey, hparams: HParams):
        resets = episode_starts(trajectory.last)
        carries = trajectory.extras["carry"]
        initial = jax.tree.map(lambda c: c[0], carries)
        # One unroll of every env's rollout gives V(s_t) and the core's state after each step; the
        # true successor s'_t is then seen from that state, so a truncated episode bootstraps
        # from its final observation with the episode's memory (for other steps it is s_{t+1}).
        _, _, values, after = network.apply(state.params, initial, trajectory.observation, resets, states=True)
        steps, envs = values.shape
        flat = lambda x: jnp.reshape(x, (1, steps * envs) + x.shape[2:])  # noqa: E731
        _, _, next_values = network.apply(state.params, jax.tree.map(lambda c: c.reshape(steps * envs, -1), after),
                                          flat(trajectory.next_observation), jnp.zeros((1, steps * envs), bool))
        next_values = next_values.reshape(steps, envs)
        sequence = lambda x: to_sequences(x, length)  # noqa: E731
        minibatch = training_batch(trajectory, values, next_values, hparams, sequence)
        if burn_in:
            # A sequence's burn-in starts from the state stored at its first burn-in step inside
            # the rollout; steps before the rollout are inactive (the state passes through).
            first = jnp.maximum(jnp.arange(0, steps, length) - burn_in, 0)
            start_state = jax.tree.map(lambda c: jnp.reshape(c[first], (-1,) + c.shape[2:]), carries)
            burn_observation, active = burn_in_windows(trajectory.observation, length, burn_in)
            burn_resets, _ = burn_in_windows(resets, length, burn_in)
        else:
            start_state = jax.tree.map(lambda c: jnp.reshape(c[::length], (-1,) + c.shape[2:]), carries)
            burn_observation = burn_resets = active = jnp.zeros((minibatch.action.shape[0], 0), bool)
        sequences = Sequences(minibatch, sequence(resets), start_state, burn_observation, burn_resets, active)
        chex.assert_shape(sequences.resets, (config.num_sequences, length))
        return builder.epochs_update(config, state, sequences, key, lambda p, s: sequence_loss(p, s, hparams),
                                     optimizer(config, hparams))

    return Agent(init=init, act=act, update=update, init_actor=init_actor, reset_actor=reset_actor)


def make_train(config: Config) -> Train:
    """Recurrent PPO's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or an option that does not fit it, before
    anything is traced or compiled.
    """
    return builder.on_policy_train(config, Config, make_agent, rollout_length=config.rollout_length)
