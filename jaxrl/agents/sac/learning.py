"""SAC's actor and learner (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications",
arXiv:1812.05905), run on the generic off-policy loop.

The actor samples from the tanh-Gaussian policy (its mode in evaluation). Each update minimises
three losses on one replayed batch: the twin critics' squared error to the soft clipped double-Q
target, the policy's E[alpha log pi - min Q], and the temperature's loss that drives the policy's
entropy toward the target; the target critics then move toward the critics by Polyak averaging.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxrl import losses, networks, optim
from jaxrl.agents import builder
from jaxrl.agents.sac.config import Config, HParams
from jaxrl.agents.sac.networks import make_networks
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey


@flax.struct.dataclass
class AgentState:
    """SAC's state. Parameters are flat vectors (`networks.flat_network`); the critics' vector
    holds both twins."""

    actor_params: Array
    critic_params: Array
    target_critic_params: Array
    log_temperature: Array
    actor_opt_state: Any
    critic_opt_state: Any
    temperature_opt_state: Any


def init_sac(actor: networks.FlatNetwork, critic: networks.FlatNetwork, key: PRNGKey, hparams: Any) -> AgentState:
    """Fresh parameters, targets equal to the critics, alpha at `hparams.init_temperature`."""
    fresh = builder.init_actor_critic(actor, critic, key, hparams)
    log_temperature = jnp.log(hparams.init_temperature)
    return AgentState(**fresh._asdict(), target_critic_params=fresh.critic_params, log_temperature=log_temperature,
                      temperature_opt_state=optim.adam(hparams.temperature_learning_rate).init(log_temperature))


# A regulariser added to the critics' loss: (critic_params, key) -> (loss, metrics); CQL's penalty.
CriticPenalty = Callable[[Array, PRNGKey], tuple[Array, Metrics]]


def sac_update(actor: networks.FlatNetwork, critic: networks.FlatNetwork, action_size: int, n_step: int,
               state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: Any, *,
               backup_entropy: bool = True, critic_penalty: CriticPenalty | None = None) -> tuple[AgentState, Metrics]:
    """One SAC update on `batch`: the twin critics, the policy and the temperature each take an
    Adam step on their loss at the same parameters, then the target critics a Polyak step.

    `backup_entropy=False` drops the entropy term from the critics' target (CQL's setting, Kumar et
    al. 2020); `critic_penalty(critic_params, key)` adds a regulariser to the critics' loss.
    """
    t = batch.transitions
    if critic_penalty is not None:
        key, penalty_key = jax.random.split(key)
    next_key, policy_key = jax.random.split(key)
    temperature = jnp.exp(state.log_temperature)
    target_entropy = hparams.target_entropy_per_dim * action_size
    # The soft target bootstraps from a fresh action of the current policy at s'.
    next_action, next_log_prob = actor.apply(state.actor_params, t.next_observation).sample_and_log_prob(
        seed=next_key)
    next_q = critic.apply(state.target_critic_params, t.next_observation, next_action)
    discount = off_policy.bootstrap_discount(t, hparams.gamma, n_step)
    targets = losses.clipped_double_q_targets(t.reward, discount, next_q, next_log_prob,
                                              temperature if backup_entropy else 0.0)

    # The three losses depend on disjoint parameters (stop_gradient elsewhere), so one backward
    # pass gives each its gradient; all are taken at the same parameters, as in Acme's SAC.
    def loss_fn(params: tuple[Array, Array, Array]) -> tuple[Array, Metrics]:
        critic_params, actor_params, log_temperature = params
        critic_loss = losses.squared_td_loss(critic.apply(critic_params, t.observation, t.action), targets)
        penalty_metrics = {}
        if critic_penalty is not None:
            penalty, penalty_metrics = critic_penalty(critic_params, penalty_key)
            critic_loss = critic_loss + penalty
        action, log_prob = actor.apply(actor_params, t.observation).sample_and_log_prob(seed=policy_key)
        q = jnp.min(critic.apply(jax.lax.stop_gradient(critic_params), t.observation, action), axis=0)
        actor_loss = losses.sac_actor_loss(q, log_prob, temperature)
        temperature_loss = losses.sac_temperature_loss(log_temperature, log_prob, target_entropy)
        metrics = {
            "critic_loss": critic_loss,
            "actor_loss": actor_loss,
            "temperature_loss": temperature_loss,
            "temperature": temperature,
            "entropy": -jnp.mean(log_prob),
            "q_mean": jnp.mean(q),
            **penalty_metrics,
        }
        return critic_loss + actor_loss + temperature_loss, metrics

    params = (state.critic_params, state.actor_params, state.log_temperature)
    (critic_grads, actor_grads, temperature_grads), metrics = jax.grad(loss_fn, has_aux=True)(params)
    critic_params, critic_opt_state, actor_params, actor_opt_state = builder.step_actor_critic(
        hparams, state, critic_grads, actor_grads)
    log_temperature, temperature_opt_state = optim.step(optim.adam(hparams.temperature_learning_rate),
                                                        state.log_temperature, temperature_grads,
                                                        state.temperature_opt_state)
    target_critic_params = optax.incremental_update(critic_params, state.target_critic_params, hparams.tau)
    new_state = AgentState(
        actor_params=actor_params,
        critic_params=critic_params,
        target_critic_params=target_critic_params,
        log_temperature=log_temperature,
        actor_opt_state=actor_opt_state,
        critic_opt_state=critic_opt_state,
        temperature_opt_state=temperature_opt_state,
    )
    return new_state, metrics


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """SAC's `Agent` bundle for an environment `spec`."""
    actor_module, critic_module = make_networks(spec, config.hidden_sizes, config.activation)
    actor, critic = builder.flat_actor_critic(spec, actor_module, critic_module)
    action_size = int(spec.action.shape[-1])

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        return init_sac(actor, critic, key, hparams)

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        return sac_update(actor, critic, action_size, config.n_step, state, batch, key, hparams)

    return Agent(init=init, act=builder.stochastic_policy_act(actor), update=update)


def make_train(config: Config) -> Train:
    """SAC's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one with discrete actions, before anything
    is traced or compiled.
    """
    return builder.off_policy_train(config, Config, make_agent)
