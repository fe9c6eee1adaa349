"""TD3's actor and learner (Fujimoto et al. 2018, "Addressing Function Approximation Error in
Actor-Critic Methods", arXiv:1802.09477), run on the generic off-policy loop.

The actor acts with mu(s) plus Gaussian noise. Every update regresses both critics on
r + gamma * d * min_k Q'_k(s', a'), where a' is the target actor's action with clipped noise
(target policy smoothing); every `policy_delay`-th update also moves the actor along the
deterministic policy gradient of the first critic and Polyak-averages both targets.
"""

from __future__ import annotations

from jaxrl import losses, networks
from jaxrl.agents import builder
from jaxrl.agents.ddpg.learning import AgentState, deterministic_actor, deterministic_update, init_deterministic
from jaxrl.agents.td3.config import Config, HParams
from jaxrl.agents.td3.networks import make_networks
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, PRNGKey


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """TD3's `Agent` bundle for an environment `spec`."""
    actor_module, critic_module = make_networks(spec, config.hidden_sizes, config.activation)
    actor, critic = builder.flat_actor_critic(spec, actor_module, critic_module)
    # The actor follows the first critic alone (Fujimoto et al. 2018, Algorithm 1).
    first_critic = networks.ensemble_member(critic_module)

    def first_q(critic_params: Array, observation: Array, action: Array) -> Array:
        return first_critic.apply(networks.ensemble_member_params(critic.unravel(critic_params), 0), observation,
                                  action)

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        return init_deterministic(actor, critic, key, hparams)

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        t = batch.transitions
        next_action = losses.smoothed_target_actions(
            key, actor.apply(state.target_actor_params, t.next_observation), hparams.target_noise,
            hparams.target_noise_clip)
        next_q = critic.apply(state.target_critic_params, t.next_observation, next_action)
        targets = losses.clipped_double_q_targets(
            t.reward, off_policy.bootstrap_discount(t, hparams.gamma, config.n_step), next_q)

        # The actor's gradient is computed every update and applied on every policy_delay-th.
        return deterministic_update(
            state, actor, t.observation,
            lambda critic_params: losses.squared_td_loss(critic.apply(critic_params, t.observation, t.action), targets),
            first_q, hparams, update_actor=state.num_updates % config.policy_delay == 0)

    return Agent(init=init, update=update, **deterministic_actor(actor, config, spec))


def make_train(config: Config) -> Train:
    """TD3's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one with discrete actions, before anything
    is traced or compiled.
    """
    return builder.off_policy_train(config, Config, make_agent)
