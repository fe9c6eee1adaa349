"""D4PG's actor and learner (Barth-Maron et al. 2018, "Distributed Distributional Deterministic
Policy Gradients", arXiv:1804.08617), run on the generic off-policy loop in one process.

The actor acts with mu(s) plus Gaussian noise. Each update fits the critic's categorical
distribution Z(s, a) by cross-entropy to the n-step target r + discount * Z'(s', mu'(s'))
projected onto the atoms, moves the actor along the deterministic policy gradient of
E[Z(s, a)], and Polyak-averages both targets.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl import losses
from jaxrl.agents import builder
from jaxrl.agents.d4pg.config import Config, HParams
from jaxrl.agents.d4pg.networks import make_networks
from jaxrl.agents.ddpg.learning import AgentState, deterministic_actor, deterministic_update, init_deterministic
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, PRNGKey


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """D4PG's `Agent` bundle for an environment `spec`."""
    actor, critic = builder.flat_actor_critic(spec, *make_networks(spec, config.hidden_sizes, config.activation,
                                                           config.num_atoms))

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        return init_deterministic(actor, critic, key, hparams)

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        del key  # D4PG's update is deterministic given the batch
        t = batch.transitions
        atoms = config.atoms
        discount = off_policy.bootstrap_discount(t, hparams.gamma, config.n_step)
        next_action = actor.apply(state.target_actor_params, t.next_observation)
        next_logits = critic.apply(state.target_critic_params, t.next_observation, next_action)

        def critic_loss(critic_params: Array) -> Array:
            logits = critic.apply(critic_params, t.observation, t.action)
            return jnp.mean(losses.categorical_td_losses(atoms, logits, t.reward, discount, next_logits))

        def q_value(critic_params: Array, observation: Array, action: Array) -> Array:
            return losses.categorical_mean(atoms, critic.apply(critic_params, observation, action))

        return deterministic_update(state, actor, t.observation, critic_loss, q_value, hparams, config.dqda_clipping)

    return Agent(init=init, update=update, **deterministic_actor(actor, config, spec))


def make_train(config: Config) -> Train:
    """D4PG's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one with discrete actions, before anything
    is traced or compiled.
    """
    return builder.off_policy_train(config, Config, make_agent)
