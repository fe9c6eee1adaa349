"""TD3's actor and learner (Fujimoto et al. 2018, "Addressing Function Approximation Error in
Actor-Critic Methods", arXiv:1802.09477), run on the generic off-policy loop.

The actor acts with mu(s) plus Gaussian noise. Every update regresses both critics on
r + gamma * d * min_k Q'_k(s', a'), where a' is the target actor's action with clipped noise
(target policy smoothing); every `policy_delay`-th update also moves the actor along the
deterministic policy gradient of the first critic and Polyak-averages both targets.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl import envs, losses, networks
from jaxrl.agents import continuous_off_policy
from jaxrl.agents.continuous_off_policy import DeterministicAgentState as AgentState
from jaxrl.agents.td3.config import Config, HParams
from jaxrl.agents.td3.networks import make_networks
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """TD3's `Agent` bundle for an environment `spec`."""
    config.check_spec(spec)
    actor_module, critic_module = make_networks(spec, config.hidden_sizes, config.activation)
    observation = jnp.zeros((1,) + spec.observation.shape, jnp.float32)
    actor = networks.flat_network(actor_module, observation)
    critic = networks.flat_network(critic_module, observation, jnp.zeros((1,) + spec.action.shape, jnp.float32))
    # The actor follows the first critic alone (Fujimoto et al. 2018, Algorithm 1).
    first_critic = networks.ensemble_member(critic_module)

    def first_q(critic_params: Array, observation: Array, action: Array) -> Array:
        return first_critic.apply(networks.ensemble_member_params(critic.unravel(critic_params), 0), observation,
                                  action)

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        return continuous_off_policy.init_deterministic(actor, critic, key, hparams)

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        t = batch.transitions
        next_action = losses.smoothed_target_actions(
            key, actor.apply(state.target_actor_params, t.next_observation), hparams.target_noise,
            hparams.target_noise_clip)
        next_q = critic.apply(state.target_critic_params, t.next_observation, next_action)
        targets = losses.clipped_double_q_targets(t.reward, hparams.gamma * t.discount, next_q)

        # Actor and critic losses depend on disjoint parameters: one backward pass for both. The
        # actor's gradient is computed every update and applied on every policy_delay-th.
        def loss_fn(params: tuple[Array, Array]) -> tuple[Array, Metrics]:
            critic_params, actor_params = params
            critic_loss = losses.squared_td_loss(critic.apply(critic_params, t.observation, t.action), targets)
            frozen_critic = jax.lax.stop_gradient(critic_params)
            actor_loss, q = losses.deterministic_policy_gradient(
                lambda a: first_q(frozen_critic, t.observation, a), actor.apply(actor_params, t.observation)
            )
            metrics = {"critic_loss": critic_loss, "actor_loss": -jnp.mean(q), "q_mean": jnp.mean(q)}
            return critic_loss + actor_loss, metrics

        (critic_grads, actor_grads), metrics = jax.grad(loss_fn, has_aux=True)(
            (state.critic_params, state.actor_params))
        update_actor = state.num_updates % config.policy_delay == 0
        state = continuous_off_policy.deterministic_step(state, critic_grads, actor_grads, hparams, update_actor)
        return state, metrics

    return Agent(init=init, act=continuous_off_policy.deterministic_act(actor), update=update)


def make_env(config: Config, num_envs: int | None = None) -> envs.Environment:
    """The batched training environment (`num_envs` overrides the config's, e.g. for evaluation)."""
    return continuous_off_policy.make_env(config, num_envs)


def make_train(config: Config) -> Train:
    """TD3's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one with discrete actions, before anything
    is traced or compiled.
    """
    if not isinstance(config, Config):
        raise TypeError(f"td3.make_train takes a td3.Config, got {type(config).__name__}")
    return continuous_off_policy.make_train(config, make_agent)
