"""MPO's actor and learner (Abdolmaleki et al. 2018, "Maximum a Posteriori Policy Optimisation",
arXiv:1806.06920), run on the generic off-policy loop.

The actor samples from the Gaussian policy (its mean in evaluation), clipped to the action box.
Each update, on one replayed batch: the critic regresses on r + gamma d mean_j Q_target(s', a'_j)
with a'_j drawn from the target policy; the E-step weighs `action_samples` target-policy actions per
state by softmax(Q_target / eta) and takes a step on the temperature's dual; the M-step fits the
policy's mean and standard deviation to those weights, each under its KL bound to the target
policy with a learned multiplier (`losses.mpo`). Target policy and critic follow by Polyak
averaging.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from jaxrl import losses, optim
from jaxrl.agents import builder
from jaxrl.agents.mpo.config import Config, HParams
from jaxrl.agents.mpo.networks import make_networks, sample
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey


@flax.struct.dataclass
class Duals:
    """The dual variables' free parameters (each variable is softplus of its parameter): the
    E-step temperature (a scalar) and the M-step's Lagrange multipliers, one per action dimension."""

    log_temperature: Array
    log_alpha_mean: Array
    log_alpha_std: Array


@flax.struct.dataclass
class AgentState:
    """MPO's state. Network parameters are flat vectors (`networks.flat_network`)."""

    actor_params: Array
    critic_params: Array
    target_actor_params: Array
    target_critic_params: Array
    duals: Duals
    actor_opt_state: Any
    critic_opt_state: Any
    dual_opt_state: Any


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """MPO's `Agent` bundle for an environment `spec`."""
    actor_module, critic_module = make_networks(spec, config.hidden_sizes, config.activation, config.init_std)
    actor, critic = builder.flat_actor_critic(spec, actor_module, critic_module)
    action_size = int(spec.action.shape[-1])
    action_samples = config.action_samples

    def q_value(params: Array, observation: Array, action: Array) -> Array:
        """Q(s, a) of actions clipped to the box (what the environment would do with them)."""
        return critic.apply(params, observation, jnp.clip(action, -1.0, 1.0))[0]

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        fresh = builder.init_actor_critic(actor, critic, key, hparams)
        duals = Duals(log_temperature=jnp.asarray(config.init_log_temperature, jnp.float32),
                      log_alpha_mean=jnp.full((action_size,), config.init_log_alpha_mean, jnp.float32),
                      log_alpha_std=jnp.full((action_size,), config.init_log_alpha_std, jnp.float32))
        return AgentState(**fresh._asdict(), target_actor_params=fresh.actor_params,
                          target_critic_params=fresh.critic_params, duals=duals,
                          dual_opt_state=optim.adam(hparams.dual_learning_rate).init(duals))

    def act(state: AgentState, actor_state: None, observation: Array, key: PRNGKey, hparams: HParams,
            eval: bool = False, env_steps: Array | None = None):
        mean, std = actor.apply(state.actor_params, observation)
        if eval:
            return jnp.clip(mean, -1.0, 1.0), actor_state, {}
        return jnp.clip(sample(key, mean, std, 1)[0], -1.0, 1.0), actor_state, {}

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        t = batch.transitions
        next_key, policy_key = jax.random.split(key)
        # The critic's target: the expected target Q under the target policy at s'.
        next_mean, next_std = actor.apply(state.target_actor_params, t.next_observation)
        next_actions = sample(next_key, next_mean, next_std, action_samples)  # [N, B, A]
        next_observations = jnp.broadcast_to(t.next_observation, (action_samples,) + t.next_observation.shape)
        next_q = jnp.mean(q_value(state.target_critic_params, next_observations, next_actions), axis=0)
        discount = off_policy.bootstrap_discount(t, hparams.gamma, config.n_step)
        targets = t.reward + discount * next_q
        # The E-step's samples: actions of the target policy at s, valued by the target critic.
        target_mean, target_std = actor.apply(state.target_actor_params, t.observation)
        actions = sample(policy_key, target_mean, target_std, action_samples)
        observations = jnp.broadcast_to(t.observation, (action_samples,) + t.observation.shape)
        sampled_q = q_value(state.target_critic_params, observations, actions)  # [N, B]

        # Critic, policy and duals depend on disjoint parameters: one backward pass for all three.
        def loss_fn(params: tuple[Array, Array, Duals]) -> tuple[Array, Metrics]:
            critic_params, actor_params, duals = params
            critic_loss = losses.squared_td_loss(critic.apply(critic_params, t.observation, t.action), targets)
            temperature = losses.mpo.dual_variable(duals.log_temperature)
            temperature_loss, weights = losses.mpo.temperature_loss_and_weights(sampled_q, temperature,
                                                                                hparams.epsilon)
            mean, std = actor.apply(actor_params, t.observation)
            m_step = losses.mpo.decoupled_m_step(
                actions, weights, mean, std, target_mean, target_std, losses.mpo.dual_variable(duals.log_alpha_mean),
                losses.mpo.dual_variable(duals.log_alpha_std), hparams.epsilon_mean, hparams.epsilon_std)
            policy_loss = m_step.mean_loss + m_step.std_loss + m_step.penalty
            metrics = {
                "critic_loss": critic_loss,
                "policy_loss": policy_loss,
                "temperature_loss": temperature_loss,
                "dual_loss": m_step.dual_loss,
                "temperature": temperature,
                "kl_mean": jnp.sum(m_step.kl_mean),
                "kl_std": jnp.sum(m_step.kl_std),
                "std": jnp.mean(std),
                "q_mean": jnp.mean(sampled_q),
            }
            return critic_loss + policy_loss + temperature_loss + m_step.dual_loss, metrics

        params = (state.critic_params, state.actor_params, state.duals)
        (critic_grads, actor_grads, dual_grads), metrics = jax.grad(loss_fn, has_aux=True)(params)
        duals, dual_opt_state = optim.step(optim.adam(hparams.dual_learning_rate), state.duals, dual_grads,
                                           state.dual_opt_state)
        new_state = AgentState(**builder.step_actor_critic_and_targets(hparams, state, critic_grads, actor_grads),
                               duals=duals, dual_opt_state=dual_opt_state)
        return new_state, metrics

    return Agent(init=init, act=act, update=update)


def make_train(config: Config) -> Train:
    """MPO's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one with discrete actions, before anything
    is traced or compiled.
    """
    return builder.off_policy_train(config, Config, make_agent)


__all__ = ["AgentState", "Duals", "make_agent", "make_train"]
