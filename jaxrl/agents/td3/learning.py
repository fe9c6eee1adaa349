"""TD3's actor and learner (Fujimoto et al. 2018, "Addressing Function Approximation Error in
Actor-Critic Methods", arXiv:1802.09477), run on the generic off-policy loop.

The actor acts with mu(s) plus Gaussian noise. Every update regresses both critics on
r + gamma * d * min_k Q'_k(s', a'), where a' is the target actor's action with clipped noise
(target policy smoothing); every `policy_delay`-th update also moves the actor along the
deterministic policy gradient of the first critic and Polyak-averages both targets.
"""

from __future__ import annotations

from typing import Any, Callable

from jaxrl import losses, networks
from jaxrl.agents import builder
from jaxrl.agents.ddpg.learning import AgentState, deterministic_actor, deterministic_update, init_deterministic
from jaxrl.agents.td3.config import Config, HParams
from jaxrl.agents.td3.networks import make_networks
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, PRNGKey


def td3_networks(config: Any, spec: EnvSpec) -> tuple[networks.FlatNetwork, networks.FlatNetwork,
                                                        Callable[[Array, Array, Array], Array]]:
    """TD3's actor, twin critics (flat parameters) and `first_q(critic_params, observation, action)`,
    the first critic alone, which the actor follows (Fujimoto et al. 2018, Algorithm 1)."""
    actor_module, critic_module = make_networks(spec, config.hidden_sizes, config.activation)
    actor, critic = builder.flat_actor_critic(spec, actor_module, critic_module)
    first_critic = networks.ensemble_member(critic_module)

    def first_q(critic_params: Array, observation: Array, action: Array) -> Array:
        return first_critic.apply(networks.ensemble_member_params(critic.unravel(critic_params), 0), observation,
                                  action)

    return actor, critic, first_q


def td3_update(config: Any, actor: networks.FlatNetwork, critic: networks.FlatNetwork,
               first_q: Callable[[Array, Array, Array], Array], state: AgentState, batch: off_policy.ReplayBatch,
               key: PRNGKey, hparams: Any, *, n_step: int = 1, bc_alpha: Array | None = None):
    """One TD3 learner step: both critics regressed on the clipped double-Q target of the smoothed
    target action; the actor's gradient computed every update and applied, with the targets' Polyak
    step, on every `config.policy_delay`-th. With `bc_alpha` the actor's objective is TD3+BC's."""
    t = batch.transitions
    next_action = losses.smoothed_target_actions(
        key, actor.apply(state.target_actor_params, t.next_observation), hparams.target_noise,
        hparams.target_noise_clip)
    next_q = critic.apply(state.target_critic_params, t.next_observation, next_action)
    targets = losses.clipped_double_q_targets(t.reward, off_policy.bootstrap_discount(t, hparams.gamma, n_step), next_q)
    return deterministic_update(
        state, actor, t.observation,
        lambda critic_params: losses.squared_td_loss(critic.apply(critic_params, t.observation, t.action), targets),
        first_q, hparams, update_actor=state.num_updates % config.policy_delay == 0,
        behaviour=None if bc_alpha is None else (t.action, bc_alpha))


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """TD3's `Agent` bundle for an environment `spec`."""
    actor, critic, first_q = td3_networks(config, spec)

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        return init_deterministic(actor, critic, key, hparams)

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        return td3_update(config, actor, critic, first_q, state, batch, key, hparams, n_step=config.n_step)

    return Agent(init=init, update=update, **deterministic_actor(actor, config, spec))


def make_train(config: Config) -> Train:
    """TD3's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one with discrete actions, before anything
    is traced or compiled.
    """
    return builder.off_policy_train(config, Config, make_agent)
