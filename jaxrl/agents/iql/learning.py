"""IQL's learner on the generic offline loop (Kostrikov et al. 2021, arXiv:2110.06169).

Each update, in the order of the authors' code: V takes a step on the expectile loss of
min_k Q'_k(s, a) - V(s) (target critics, dataset actions); the policy a step on the
advantage-weighted log-likelihood of the dataset's actions, with A = min_k Q'_k(s, a) - V_new(s);
the critics a step on (Q_k(s, a) - r - gamma * d * V_new(s'))^2; then the target critics a Polyak
step. No action other than the dataset's is ever fed to a critic.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxrl import losses, networks, optim
from jaxrl.agents import builder
from jaxrl.agents.iql.config import Config, HParams
from jaxrl.agents.iql.networks import make_networks
from jaxrl.loops import off_policy, offline
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition


@flax.struct.dataclass
class AgentState:
    """IQL's state: flat parameter vectors of the policy, the twin critics (and their targets) and V."""

    actor_params: Array
    critic_params: Array
    target_critic_params: Array
    value_params: Array
    actor_opt_state: Any
    critic_opt_state: Any
    value_opt_state: Any


def iql_losses(actor: networks.FlatNetwork, critic: networks.FlatNetwork, value: networks.FlatNetwork,
               state: AgentState, batch: off_policy.ReplayBatch, hparams: HParams) -> dict[str, Any]:
    """The three losses as functions of their own parameters: {"value": V's expectile loss,
    "actor": `actor_loss(actor_params, value_params)`, "critic": `critic_loss(critic_params,
    value_params)`}, each returning (loss, metrics)."""
    t = batch.transitions
    target_q = jnp.min(critic.apply(state.target_critic_params, t.observation, t.action), axis=0)

    def value_loss(value_params):
        v = value.apply(value_params, t.observation)
        loss = losses.expectile_loss(target_q - v, hparams.expectile)
        return loss, {"value_loss": loss, "v_mean": jnp.mean(v)}

    def actor_loss(actor_params, value_params):
        advantage = target_q - value.apply(value_params, t.observation)
        weights = losses.advantage_weights(advantage, hparams.temperature)
        log_prob = actor.apply(actor_params, t.observation).log_prob(t.action)
        loss = -jnp.mean(weights * log_prob)
        return loss, {"actor_loss": loss, "advantage_weight": jnp.mean(weights)}

    def critic_loss(critic_params, value_params):
        targets = t.reward + off_policy.bootstrap_discount(t, hparams.gamma, 1) * value.apply(value_params,
                                                                                             t.next_observation)
        q = critic.apply(critic_params, t.observation, t.action)
        loss = losses.squared_td_loss(q, jax.lax.stop_gradient(targets))
        return loss, {"critic_loss": loss, "q_mean": jnp.mean(q)}

    return {"value": value_loss, "actor": actor_loss, "critic": critic_loss}


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """IQL's `Agent` bundle for an environment `spec`."""
    actor_module, critic_module, value_module = make_networks(spec, config.hidden_sizes, config.activation)
    actor, critic = builder.flat_actor_critic(spec, actor_module, critic_module)
    value = networks.flat_network(value_module, jnp.zeros((1,) + spec.observation.shape, jnp.float32))

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        key, value_key = jax.random.split(key)
        fresh = builder.init_actor_critic(actor, critic, key, hparams)
        value_params = value.init(value_key)
        return AgentState(**fresh._asdict(), target_critic_params=fresh.critic_params, value_params=value_params,
                          value_opt_state=optim.adam(hparams.critic_learning_rate).init(value_params))

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey,
               hparams: HParams) -> tuple[AgentState, Metrics]:
        del key
        loss = iql_losses(actor, critic, value, state, batch, hparams)
        value_grads, value_metrics = jax.grad(loss["value"], has_aux=True)(state.value_params)
        value_params, value_opt_state = optim.step(optim.adam(hparams.critic_learning_rate), state.value_params,
                                                   value_grads, state.value_opt_state)
        actor_grads, actor_metrics = jax.grad(loss["actor"], has_aux=True)(state.actor_params, value_params)
        critic_grads, critic_metrics = jax.grad(loss["critic"], has_aux=True)(state.critic_params, value_params)
        critic_params, critic_opt_state, actor_params, actor_opt_state = builder.step_actor_critic(
            hparams, state, critic_grads, actor_grads)
        state = AgentState(actor_params=actor_params, critic_params=critic_params,
                           target_critic_params=optax.incremental_update(critic_params, state.target_critic_params,
                                                                         hparams.tau),
                           value_params=value_params, actor_opt_state=actor_opt_state,
                           critic_opt_state=critic_opt_state, value_opt_state=value_opt_state)
        return state, {**value_metrics, **actor_metrics, **critic_metrics}

    return Agent(init=init, act=builder.stochastic_policy_act(actor), update=update)


def make_train(config: Config, dataset: Transition | None = None) -> offline.OfflineTrain:
    """IQL's offline program on `dataset` (a `Transition` of rows), or on the directory
    `config.dataset` if None: `train(key, hparams=None, dataset=None)`."""
    return builder.offline_train(config, Config, make_agent, dataset)
