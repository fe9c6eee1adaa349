"""R2D2's actor and learner (Kapturowski et al. 2019, "Recurrent Experience Replay in Distributed
Reinforcement Learning"), run on the generic off-policy loop with a sequence adder.

The actor is epsilon-greedy on a recurrent Q-network and keeps the core's state per env in its
actor state (zeroed where an episode ends); it stores the state it acted from with every step,
and each replayed sequence keeps the one at its first step. The learner unrolls each sequence
from that stored state: the first `burn_in` steps only refresh it (no loss, no gradient), the
rest are trained on double-Q n-step targets under the value rescaling h, against a target
network copied every `target_period` updates (or, with `tau` < 1, moved that far towards the
online network). Each sequence is reprioritised with the mixture of
its max and mean |TD error|.
"""

from __future__ import annotations

from typing import Any

import chex
import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxrl import losses, networks, optim, replay
from jaxrl.agents import builder, exploration
from jaxrl.agents.r2d2.config import Config, HParams
from jaxrl.agents.r2d2.networks import RecurrentQNetwork, make_network
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition

# The extras key of the core state a step was acted from; sequences keep it at their first step.
CARRY = "carry"


@flax.struct.dataclass
class AgentState:
    """R2D2's learner state: online and target parameters, optimiser state, update count."""

    params: Any
    target_params: Any
    opt_state: Any
    num_updates: Array


# The core's state per env, zeroed where an episode ends (the kit's recurrent actor).
ActorState = builder.RecurrentActorState
episode_starts = networks.episode_starts


def optimizer(config: Config, hparams: HParams) -> optax.GradientTransformation:
    return optim.adam(config.learning_rate_schedule(hparams.learning_rate), hparams.max_grad_norm)


def burn_in_state(network: RecurrentQNetwork, params: Any, sequences: replay.Sequence, burn_in: int) -> Any:
    """The core state the first trained step of each sequence [B, L] starts from: the stored state
    unrolled over the first `burn_in` steps, and zeroed where the last of them ended an episode (as
    the actor zeroes it: the trained steps' own resets see only episodes ending inside them);
    padding steps (before the run's first step) leave it as it is."""
    carry = sequences.start[CARRY]
    if burn_in == 0:
        return carry
    steps = jax.tree.map(lambda x: jnp.swapaxes(x[:, :burn_in], 0, 1), sequences.steps)
    valid = jnp.swapaxes(sequences.valid[:, :burn_in], 0, 1)
    carry, _ = network.apply(params, carry, steps.observation, episode_starts(steps.last), valid)
    return networks.reset_carry(carry, steps.last[-1] & valid[-1])


def n_step_targets(steps: Transition, bootstrap: Array, n: int, gamma: Array) -> Array:
    """sum_{k<m} gamma^k r_{t+k} + gamma^m prod_{k<m} d_{t+k} bootstrap_{t+m-1} for every step t of
    time-major `steps` [T, B], where m = min(n, steps to the episode's end, steps left in the
    sequence) and `bootstrap[t]` is the value of step t's true successor (so a truncated episode
    bootstraps from its final observation, a terminated one does not: d = 0)."""
    windows = replay.n_step.from_trajectory(steps._replace(next_observation=bootstrap), n, gamma)
    return windows.reward + windows.discount * windows.next_observation


def r2d2_loss(config: Config, network: RecurrentQNetwork, params: Any, target_params: Any,
              sequences: replay.Sequence, weights: Array, hparams: HParams) -> tuple[Array, Metrics]:
    """The importance-weighted mean over sequences of the mean squared TD error over their trained
    steps, and metrics with each sequence's `priorities`.

    Online and target networks both start from the stored state refreshed by the burn-in (the
    online one's without gradient). The successor of step t is seen from the core state after t,
    which is where a truncated episode's final observation belongs.
    """
    burn_in = config.burn_in
    batch_size, length = sequences.valid.shape
    chex.assert_shape(weights, (batch_size,))
    online_carry = jax.lax.stop_gradient(burn_in_state(network, params, sequences, burn_in))
    target_carry = burn_in_state(network, target_params, sequences, burn_in)
    steps = jax.tree.map(lambda x: jnp.swapaxes(x[:, burn_in:], 0, 1), sequences.steps)  # [T, B, ...]
    valid = jnp.swapaxes(sequences.valid[:, burn_in:], 0, 1)
    resets = episode_starts(steps.last)
    _, q, online_after = network.apply(params, online_carry, steps.observation, resets, valid, True)
    _, _, target_after = network.apply(target_params, target_carry, steps.observation, resets, valid, True)

    # Q(s'_t, .) from the state after step t, all steps as one batch of single steps.
    num_steps = length - burn_in
    flat = lambda x: jnp.reshape(x, (num_steps * batch_size,) + x.shape[2:])  # noqa: E731
    next_observation = flat(steps.next_observation)[None]
    no_resets = jnp.zeros((1, num_steps * batch_size), bool)

    def successor_q(p, after):
        _, q_next = network.apply(p, jax.tree.map(flat, after), next_observation, no_resets)
        return q_next[0].reshape(num_steps, batch_size, -1)

    next_online = successor_q(jax.lax.stop_gradient(params), online_after)
    next_target = successor_q(target_params, target_after)
    best = jnp.argmax(next_online, axis=-1)  # double Q: the online network picks, the target values
    bootstrap = jnp.take_along_axis(next_target, best[..., None], axis=-1)[..., 0]
    if config.value_rescaling:
        bootstrap = losses.inverse_value_rescaling(bootstrap, config.rescaling_epsilon)
    targets = n_step_targets(steps, bootstrap, config.n_step, hparams.gamma)
    if config.value_rescaling:
        targets = losses.value_rescaling(targets, config.rescaling_epsilon)
    q_taken = jnp.take_along_axis(q, steps.action[..., None], axis=-1)[..., 0]
    td_errors = jax.lax.stop_gradient(targets) - q_taken
    chex.assert_shape(td_errors, (num_steps, batch_size))
    count = jnp.maximum(jnp.sum(valid, axis=0), 1)
    per_sequence = jnp.sum(jnp.where(valid, 0.5 * jnp.square(td_errors), 0.0), axis=0) / count
    loss = jnp.mean(weights * per_sequence)
    priorities = losses.sequence_priorities(jax.lax.stop_gradient(td_errors), valid, hparams.priority_eta)
    q_mean = jnp.sum(jnp.where(valid, q_taken, 0.0)) / jnp.maximum(jnp.sum(valid), 1)
    return loss, {"loss": loss, "q_mean": q_mean, off_policy.PRIORITIES: priorities}


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """R2D2's `Agent` bundle for an environment `spec`."""
    network = make_network(spec, config)
    num_actions = spec.action.num_values

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        dummy = jnp.zeros((1, 1) + spec.observation.shape, jnp.float32)
        zero_state = networks.initial_carry(config.core, config.core_size, (1,))
        params = network.init(key, zero_state, dummy, jnp.zeros((1, 1), bool))
        return AgentState(params=params, target_params=params, opt_state=optimizer(config, hparams).init(params),
                          num_updates=jnp.zeros((), jnp.int32))

    init_actor, reset_actor = builder.recurrent_actor(config.core, config.core_size)

    def act(state: AgentState, actor_state: ActorState, observation: Array, key: PRNGKey, hparams: HParams,
            eval: bool = False, env_steps: Array | None = None):
        resets = jnp.zeros((1, observation.shape[0]), bool)  # reset_actor already zeroed new episodes
        carry, q = network.apply(state.params, actor_state.carry, observation[None], resets)
        action = jnp.argmax(q[0], axis=-1).astype(jnp.int32)
        if eval:
            return action, ActorState(carry), {}
        if env_steps is None:
            env_steps = jnp.zeros((), jnp.int32)
        action = exploration.epsilon_greedy(key, action, num_actions, config.epsilon(hparams, env_steps))
        # The state this step was acted from: a replayed sequence is unrolled from its first one.
        return action, ActorState(carry), {CARRY: actor_state.carry}

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        del key  # the update is deterministic given the batch
        grads, metrics = jax.grad(
            lambda p: r2d2_loss(config, network, p, state.target_params, batch.transitions, batch.weights, hparams),
            has_aux=True,
        )(state.params)
        params, opt_state = optim.step(optimizer(config, hparams), state.params, grads, state.opt_state)
        num_updates = state.num_updates + 1
        target_params = config.update_target(params, state.target_params, num_updates, hparams.tau)
        return AgentState(params=params, target_params=target_params, opt_state=opt_state,
                          num_updates=num_updates), metrics

    return Agent(init=init, act=act, update=update, init_actor=init_actor, reset_actor=reset_actor)


def make_buffer(config: Config) -> replay.ReplayBuffer:
    """The sequence replay: `buffer_size` sequences, sampled `batch_size` at a time, prioritized
    (R2D2's alpha 0.9, beta 0.6 by default) or uniform."""
    if config.prioritized:
        return replay.prioritized(config.buffer_size, config.batch_size, alpha=config.priority_exponent,
                                  beta=config.importance_exponent)
    return replay.uniform(config.buffer_size, config.batch_size)


def make_adder(config: Config) -> replay.SequenceAdder:
    """Every `sequence_period` steps, each env's last `sequence_length` steps, keeping the core state
    only at the first."""
    return replay.sequence_adder(config.sequence_length, config.sequence_period, start_keys=(CARRY,))


def make_train(config: Config) -> Train:
    """R2D2's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one without discrete actions, before
    anything is traced or compiled.
    """
    return builder.off_policy_train(config, Config, make_agent, make_buffer=make_buffer, make_adder=make_adder)
