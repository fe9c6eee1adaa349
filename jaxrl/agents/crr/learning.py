"""CRR's learner on the generic offline loop (Wang et al. 2020, arXiv:2006.15134).

Each update, from one batch and the parameters before it: the twin critics take a step on
(Q_k(s, a) - r - gamma * d * min_k Q'_k(s', a'))^2 with a' ~ pi(.|s'); the policy a step on
-f(A(s, a)) log pi(a|s) for the dataset's actions, A = min_k Q_k(s, a) - V(s) and V(s) the mean (or
max) of min_k Q_k(s, a_j) over actions a_j ~ pi(.|s); then the target critics a Polyak step. The
policy is SAC's tanh-Gaussian network; its greedy action is the squashed mean.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxrl import losses, networks
from jaxrl.agents import builder
from jaxrl.agents.crr.config import Config, HParams
from jaxrl.agents.sac.networks import make_networks
from jaxrl.loops import off_policy, offline
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition


@flax.struct.dataclass
class AgentState:
    """CRR's state: flat parameter vectors of the policy and the twin critics (and their targets)."""

    actor_params: Array
    critic_params: Array
    target_critic_params: Array
    actor_opt_state: Any
    critic_opt_state: Any


def crr_losses(config: Config, actor: networks.FlatNetwork, critic: networks.FlatNetwork, state: AgentState,
               batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams) -> dict[str, Any]:
    """The two losses as functions of their own parameters, {"critic": critic_loss(critic_params),
    "actor": actor_loss(actor_params)}, each returning (loss, metrics); the advantages use
    `state`'s critics."""
    t = batch.transitions
    next_key, value_key = jax.random.split(key)
    next_action = actor.apply(state.actor_params, t.next_observation).sample(seed=next_key)
    next_q = critic.apply(state.target_critic_params, t.next_observation, next_action)
    targets = losses.clipped_double_q_targets(t.reward, off_policy.bootstrap_discount(t, hparams.gamma, 1), next_q)

    batch_size, num_samples = t.reward.shape[0], config.num_action_samples
    # The policy network runs once per state (the same draws as over the repeated states).
    policy = networks.repeat_policy(actor.apply(state.actor_params, t.observation), num_samples)
    sampled = policy.sample(seed=value_key)
    observations = jnp.repeat(t.observation, num_samples, axis=0)
    q_sampled = jnp.min(critic.apply(state.critic_params, observations, sampled), axis=0)
    q_sampled = q_sampled.reshape(batch_size, num_samples)
    value = jnp.mean(q_sampled, axis=-1) if config.advantage_estimate == "mean" else jnp.max(q_sampled, axis=-1)
    advantage = jnp.min(critic.apply(state.critic_params, t.observation, t.action), axis=0) - value
    weights = losses.crr_weights(advantage, hparams.beta, config.filter, config.max_weight)

    def critic_loss(critic_params):
        q = critic.apply(critic_params, t.observation, t.action)
        loss = losses.squared_td_loss(q, targets)
        return loss, {"critic_loss": loss, "q_mean": jnp.mean(q)}

    def actor_loss(actor_params):
        loss = -jnp.mean(weights * actor.apply(actor_params, t.observation).log_prob(t.action))
        return loss, {"actor_loss": loss, "advantage_weight": jnp.mean(weights), "advantage": jnp.mean(advantage)}

    return {"critic": critic_loss, "actor": actor_loss}


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """CRR's `Agent` bundle for an environment `spec`."""
    actor, critic = builder.flat_actor_critic(spec, *make_networks(spec, config.hidden_sizes, config.activation))

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        fresh = builder.init_actor_critic(actor, critic, key, hparams)
        return AgentState(**fresh._asdict(), target_critic_params=fresh.critic_params)

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey,
               hparams: HParams) -> tuple[AgentState, Metrics]:
        loss = crr_losses(config, actor, critic, state, batch, key, hparams)
        critic_grads, critic_metrics = jax.grad(loss["critic"], has_aux=True)(state.critic_params)
        actor_grads, actor_metrics = jax.grad(loss["actor"], has_aux=True)(state.actor_params)
        critic_params, critic_opt_state, actor_params, actor_opt_state = builder.step_actor_critic(
            hparams, state, critic_grads, actor_grads)
        state = AgentState(actor_params=actor_params, critic_params=critic_params,
                           target_critic_params=optax.incremental_update(critic_params, state.target_critic_params,
                                                                         hparams.tau),
                           actor_opt_state=actor_opt_state, critic_opt_state=critic_opt_state)
        return state, {**actor_metrics, **critic_metrics}

    return Agent(init=init, act=builder.stochastic_policy_act(actor), update=update)


def make_train(config: Config, dataset: Transition | None = None) -> offline.OfflineTrain:
    """CRR's offline program on `dataset` (a `Transition` of rows), or on the directory
    `config.dataset` if None: `train(key, hparams=None, dataset=None)`."""
    return builder.offline_train(config, Config, make_agent, dataset)
