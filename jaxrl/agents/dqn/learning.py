"""DQN's actor and learner (Mnih et al. 2015, "Human-level control through deep reinforcement
learning"), run on the generic off-policy loop.

The actor is epsilon-greedy with a linear schedule over env steps; the learner minimises the
(double, van Hasselt et al. 2016) Q-learning TD error, or C51's cross-entropy (Bellemare et al.
2017), on replayed batches, against a target network updated every `target_period` gradient
steps (a hard copy for tau = 1, Polyak averaging for tau < 1).
"""

from __future__ import annotations

from typing import Any, Callable

import chex
import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxrl import losses, optim, replay
from jaxrl.agents import builder, exploration
from jaxrl.agents.dqn.config import Config, HParams
from jaxrl.agents.dqn.networks import QNetwork, make_network
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey


@flax.struct.dataclass
class AgentState:
    """DQN's state: online and target parameters, optimiser state, update count.

    Parameters are kept as flat vectors (`unravel` gives the network's pytree back): gradient
    clipping, Adam and the target update are then one fused op each instead of one per layer,
    which is most of a small network's update cost on CPU.
    """

    params: Any
    target_params: Any
    opt_state: Any
    num_updates: Array


def _optimizer(config: Config, hparams: HParams) -> optax.GradientTransformation:
    return optim.adam(config.learning_rate_schedule(hparams.learning_rate), hparams.max_grad_norm)


def epsilon(config: Config, hparams: HParams, env_steps: Array) -> Array:
    """Linear decay from epsilon_start to epsilon_end over the first exploration_fraction of the
    run's env steps, then constant (Mnih et al. 2015 anneal over the first 1M frames)."""
    return config.epsilon(hparams, env_steps)  # the schedule lives with its fields (EpsilonGreedyConfig)


# A loss on the online network's Q-values added to DQN's: (q [B, A], batch, hparams) -> (loss, metrics).
AuxiliaryLoss = Callable[[Array, off_policy.ReplayBatch, Any], tuple[Array, Metrics]]


def dqn_loss(
    config: Config,
    network: QNetwork,
    params: Any,
    target_params: Any,
    batch: off_policy.ReplayBatch,
    hparams: HParams,
    auxiliary: AuxiliaryLoss | None = None,
) -> tuple[Array, Metrics]:
    """The importance-weighted mean of the per-transition losses, and metrics with `priorities`;
    plus `auxiliary(q, batch, hparams)` if given (DQfD's large-margin loss).

    For double Q-learning the online network also selects the action at s', without gradient
    (a separate forward pass: one pass over [s; s'] would take fewer ops, but its backward pass
    would run over both halves, and at this size FLOPs, not op count, set the time).
    """
    t = batch.transitions
    batch_size = t.reward.shape[0]
    discount = off_policy.bootstrap_discount(t, hparams.gamma, config.n_step)
    out = network.apply(params, t.observation)
    next_online = network.apply(jax.lax.stop_gradient(params), t.next_observation) if config.double else None
    next_target = network.apply(target_params, t.next_observation)
    if config.num_atoms is None:
        selector = next_online if config.double else None
        td_errors = losses.q_learning_td_errors(out, t.action, t.reward, discount, next_target, selector)
        if config.loss == "huber":
            per_item = losses.huber(td_errors, hparams.huber_delta)
        else:
            per_item = 0.5 * jnp.square(td_errors)
        priorities = jnp.abs(td_errors)
        q_taken = jnp.take_along_axis(out, t.action[:, None], axis=-1)[:, 0]
    else:
        atoms = _atoms(config)
        selector = losses.categorical_mean(atoms, next_online) if config.double else None
        per_item = losses.categorical_q_learning_losses(
            atoms, out, t.action, t.reward, discount, next_target, selector
        )
        # Rainbow's priority: the cross-entropy itself (Hessel et al. 2018).
        priorities = per_item
        q_taken = jnp.take_along_axis(losses.categorical_mean(atoms, out), t.action[:, None], axis=-1)[:, 0]
    chex.assert_shape(per_item, (batch_size,))
    loss = jnp.mean(batch.weights * per_item)
    metrics = {"loss": loss, "q_mean": jnp.mean(q_taken), off_policy.PRIORITIES: jax.lax.stop_gradient(priorities)}
    if auxiliary is not None:
        q = out if config.num_atoms is None else losses.categorical_mean(_atoms(config), out)
        extra, extra_metrics = auxiliary(q, batch, hparams)
        loss = loss + extra
        metrics = {**metrics, **extra_metrics, "loss": loss}
    return loss, metrics


def _atoms(config: Config) -> Array:
    return jnp.linspace(config.v_min, config.v_max, config.num_atoms, dtype=jnp.float32)


def make_agent(config: Config, spec: EnvSpec, auxiliary: AuxiliaryLoss | None = None) -> Agent:
    """DQN's `Agent` bundle for an environment `spec`; `auxiliary` adds a loss on the online
    network's Q-values (`dqn_loss`)."""
    network = make_network(spec, config.hidden_sizes, config.activation, config.dueling, config.num_atoms,
                           torso=config.torso)
    num_actions = spec.action.num_values

    dummy = jnp.zeros((1,) + spec.observation.shape, jnp.float32)
    shapes = jax.eval_shape(network.init, jax.random.key(0), dummy)
    _, unravel = ravel_pytree(jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        params, _ = ravel_pytree(network.init(key, dummy))
        return AgentState(
            params=params,
            target_params=params,
            opt_state=_optimizer(config, hparams).init(params),
            num_updates=jnp.zeros((), jnp.int32),
        )

    def greedy(state: AgentState, observation: Array) -> Array:
        out = network.apply(unravel(state.params), observation)
        q = out if config.num_atoms is None else losses.categorical_mean(_atoms(config), out)
        return jnp.argmax(q, axis=-1).astype(jnp.int32)

    def act(state: AgentState, actor_state: None, observation: Array, key: PRNGKey, hparams: HParams,
            eval: bool = False, env_steps: Array | None = None):
        action = greedy(state, observation)
        if eval:
            return action, actor_state, {}
        if env_steps is None:
            env_steps = jnp.zeros((), jnp.int32)
        action = exploration.epsilon_greedy(key, action, num_actions, epsilon(config, hparams, env_steps))
        return action, actor_state, {}

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        del key  # DQN's update is deterministic given the batch
        grads, metrics = jax.grad(
            lambda p: dqn_loss(config, network, unravel(p), unravel(state.target_params), batch, hparams, auxiliary),
            has_aux=True,
        )(state.params)
        params, opt_state = optim.step(_optimizer(config, hparams), state.params, grads, state.opt_state)
        num_updates = state.num_updates + 1
        target_params = config.update_target(params, state.target_params, num_updates, hparams.tau)
        new_state = state.replace(params=params, target_params=target_params, opt_state=opt_state,
                                  num_updates=num_updates)
        return new_state, metrics

    return Agent(init=init, act=act, update=update)


def greedy_q_learner(network: Any, loss: Callable[[Any, Any, off_policy.ReplayBatch, Any], tuple[Array, Metrics]],
                     optimizer: Callable[[Any], optax.GradientTransformation]) -> Agent:
    """An offline Q-learner on DQN's state (CQL's discrete learner, BVE): `network` a flat-parameter
    Q-network (`networks.flat_network`), one `optimizer(hparams)` step per batch on
    `loss(params, target_params, batch, hparams)`, then a Polyak step of the target network by
    `hparams.tau`; it acts greedily, in training and evaluation alike."""

    def init(key: PRNGKey, spec: EnvSpec, hparams: Any) -> AgentState:
        params = network.init(key)
        return AgentState(params=params, target_params=params, opt_state=optimizer(hparams).init(params),
                          num_updates=jnp.zeros((), jnp.int32))

    def act(state: AgentState, actor_state: None, observation: Array, key: PRNGKey, hparams: Any,
            eval: bool = True, env_steps: Array | None = None):
        return jnp.argmax(network.apply(state.params, observation), axis=-1).astype(jnp.int32), actor_state, {}

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: Any):
        grads, metrics = jax.grad(lambda p: loss(p, state.target_params, batch, hparams), has_aux=True)(state.params)
        params, opt_state = optim.step(optimizer(hparams), state.params, grads, state.opt_state)
        target_params = optax.incremental_update(params, state.target_params, hparams.tau)
        return AgentState(params=params, target_params=target_params, opt_state=opt_state,
                          num_updates=state.num_updates + 1), metrics

    return Agent(init=init, act=act, update=update)


def make_buffer(config: Config) -> replay.ReplayBuffer:
    if config.prioritized:
        return replay.prioritized(config.buffer_size, config.batch_size, alpha=config.priority_exponent,
                                  beta=config.importance_exponent)
    return replay.uniform(config.buffer_size, config.batch_size)


def make_train(config: Config) -> Train:
    """DQN's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one without discrete actions, before
    anything is traced or compiled.
    """
    return builder.off_policy_train(config, Config, make_agent, make_buffer=make_buffer)
