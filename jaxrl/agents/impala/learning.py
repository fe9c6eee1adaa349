"""IMPALA's learner: V-trace value targets and importance-weighted policy gradients (Espeholt et
al. 2018, arXiv:1802.01561) on the generic on-policy loop, with actors that may act with lagged
parameters.

Acme's and the paper's IMPALA runs actors in other processes, whose parameters trail the
learner's by however many updates happened while they acted. Here that lag is explicit and
deterministic: the actor state holds the learner's parameters after each of the last
`policy_lag + 1` iterations (oldest first); the actors act with the oldest, and `sync_actor`
pushes the learner's new parameters after every iteration. So the data the learner, holding the
parameters of k updates, learns from was collected with those of k - policy_lag updates. The
behaviour policy's log-probabilities are stored with the transitions, and the update corrects
for the gap with V-trace.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import chex
import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxrl import losses, optim
from jaxrl.agents import builder
from jaxrl.agents.impala.config import Config, HParams
from jaxrl.agents.impala.networks import ActorCritic, make_network
from jaxrl.agents.ppo import AgentState
from jaxrl.loops.common import Train
from jaxrl.loops.on_policy import trajectory_values
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition


@flax.struct.dataclass
class ActorState:
    """The learner's parameters after each of the last `policy_lag + 1` iterations, stacked on a
    leading axis, oldest first: the actors act with the oldest (the newest is the learner's own,
    kept so that the next sync can drop the oldest and still leave `policy_lag` older ones)."""

    params: Any


class Unrolls(NamedTuple):
    """Whole env unrolls, time-major [T, B, ...]: what one gradient step learns from."""

    observation: Any
    action: Array
    reward: Array
    discount: Array
    last: Array
    next_observation: Any
    behaviour_log_prob: Array


def optimizer(config: Config, hparams: HParams) -> optax.GradientTransformation:
    """Adam (eps 1e-5) after global-norm clipping; with `anneal_lr`, the learning rate falls
    linearly to 0 over the run's gradient steps. (The paper used RMSProp; jaxrl has one optimiser.)"""
    return builder.epochs_adam(config, hparams, decay_each_step=True, eps=1e-5)


def impala_loss(network: ActorCritic, params: Any, batch: Unrolls, hparams: HParams) -> tuple[Array, Metrics]:
    """IMPALA's loss on whole unrolls [T, B]: -log pi(a|s) * V-trace advantage, plus vf_coef times
    0.5 (v_s - V(s))^2, minus ent_coef times the policy's entropy (Espeholt et al. 2018, sec. 4).

    V(s) and pi come from `params` (the learner's); the behaviour log-probabilities from the
    actors. The value of each true successor (a truncated episode's final observation, the
    unroll's last one) is read without gradient, as are the V-trace targets.
    """
    chex.assert_rank(batch.reward, 2)
    policy, values = network.apply(params, batch.observation)
    chex.assert_equal_shape([values, batch.reward])
    frozen = jax.lax.stop_gradient(params)
    _, next_values = trajectory_values(
        lambda observation: network.apply(frozen, observation, method=ActorCritic.value),
        batch.observation, batch.next_observation, batch.last, batch.discount, values=jax.lax.stop_gradient(values),
    )
    log_prob = policy.log_prob(batch.action)
    log_rhos = jax.lax.stop_gradient(log_prob) - batch.behaviour_log_prob
    vtrace = losses.vtrace(batch.reward, hparams.gamma * batch.discount, jax.lax.stop_gradient(values), next_values,
                           log_rhos, batch.last, hparams.vtrace_lambda, hparams.clip_rho, hparams.clip_pg_rho)
    policy_loss = -jnp.mean(log_prob * vtrace.pg_advantages)
    value_loss = losses.value_loss(values, vtrace.targets)
    entropy = jnp.mean(policy.entropy())
    total = policy_loss + hparams.vf_coef * value_loss - hparams.ent_coef * entropy
    metrics = {
        "total_loss": total,
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        # k3 estimate of KL(mu || pi) (Schulman 2020) from the actions taken: how far the behaviour
        # policy trails the learner's; 0 on-policy (policy_lag 0, first minibatch).
        "behaviour_kl": jnp.mean(jnp.expm1(log_rhos) - log_rhos),
    }
    return total, metrics


def env_minibatches(key: PRNGKey, unrolls: Unrolls, num_epochs: int, num_minibatches: int) -> Unrolls:
    """[T, N, ...] unrolls -> [num_epochs * num_minibatches, T, N / num_minibatches, ...]: per
    epoch the envs shuffled, then split into groups of whole unrolls."""
    num_envs = unrolls.reward.shape[1]
    orders = jax.vmap(lambda k: jax.random.permutation(k, num_envs))(jax.random.split(key, num_epochs))
    size = num_envs // num_minibatches

    def split(x):
        x = jnp.take(x, orders.reshape(-1), axis=1)  # [T, E * N, ...], epoch-major
        x = jnp.reshape(x, (x.shape[0], num_epochs * num_minibatches, size) + x.shape[2:])
        return jnp.swapaxes(x, 0, 1)

    return jax.tree.map(split, unrolls)


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """IMPALA's `Agent` bundle for an environment `spec`."""
    network = make_network(spec, config)
    lag = config.policy_lag

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        dummy = jnp.zeros((1,) + spec.observation.shape, jnp.float32)
        return builder.fresh_agent_state(network, optimizer(config, hparams), key, dummy)

    def act(state: AgentState, actor_state: ActorState | None, observation: Array, key: PRNGKey, hparams: HParams,
            eval: bool = False, env_steps: Array | None = None):
        if eval:  # the learner's own greedy policy
            policy = network.apply(state.params, observation, method=ActorCritic.policy)
            return policy.greedy_action(), actor_state, {}
        params = state.params if lag == 0 else jax.tree.map(lambda x: x[0], actor_state.params)
        policy = network.apply(params, observation, method=ActorCritic.policy)
        action = policy.sample(key)
        return action, actor_state, {"log_prob": policy.log_prob(action)}

    def init_actor(state: AgentState, num_envs: int) -> ActorState:
        del num_envs  # every env acts with the same parameters
        return ActorState(jax.tree.map(lambda x: jnp.stack([x] * (lag + 1)), state.params))

    def sync_actor(actor_state: ActorState, state: AgentState) -> ActorState:
        # Drop the oldest, append the learner's newest: the next rollout acts with the parameters
        # the learner had `lag` updates before its current ones.
        return ActorState(jax.tree.map(lambda queue, x: jnp.concatenate([queue[1:], x[None]]), actor_state.params,
                                       state.params))

    def update(state: AgentState, trajectory: Transition, key: PRNGKey, hparams: HParams):
        unrolls = Unrolls(
            observation=trajectory.observation,
            action=trajectory.action,
            reward=trajectory.reward,
            discount=trajectory.discount,
            last=trajectory.last,
            next_observation=trajectory.next_observation,
            behaviour_log_prob=trajectory.extras["log_prob"],
        )
        minibatches = env_minibatches(key, unrolls, config.num_epochs, config.num_minibatches)
        grad_fn = jax.grad(lambda p, mb: impala_loss(network, p, mb, hparams), has_aux=True)
        (params, opt_state), metrics = optim.minibatch_steps(grad_fn, optimizer(config, hparams), state.params,
                                                             state.opt_state, minibatches)
        chex.assert_shape(metrics["total_loss"], (config.num_epochs * config.num_minibatches,))
        return AgentState(params=params, opt_state=opt_state), jax.tree.map(jnp.mean, metrics)

    if lag == 0:
        return Agent(init=init, act=act, update=update)
    return Agent(init=init, act=act, update=update, init_actor=init_actor, sync_actor=sync_actor)


def make_acting_agent(config: Config, spec: EnvSpec) -> Agent:
    """The agent a trained policy acts with (`jaxrl.agents.make_policy`): the learner's parameters,
    without the lagged copies, which only the training actors use."""
    return make_agent(dataclasses.replace(config, policy_lag=0), spec)


def make_train(config: Config) -> Train:
    """IMPALA's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or an option that does not fit it, before
    anything is traced or compiled.
    """
    return builder.on_policy_train(config, Config, make_agent, rollout_length=config.rollout_length)
