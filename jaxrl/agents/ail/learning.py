"""AIL's program: the base agent (SAC's or TD3's `make_agent`) wrapped so that each update first
takes a discriminator step on the batch (its demonstration rows against the agent's own), then
hands the base agent the batch with the discriminator's rewards; on the off-policy loop with
demonstrations mixed into its replay (`builder.demonstrations_train`)."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from jaxrl import losses, networks, optim
from jaxrl.agents import builder
from jaxrl.agents.ail.config import Config
from jaxrl.agents.ail.networks import Discriminator
from jaxrl.agents.sac import learning as sac_learning
from jaxrl.agents.td3 import learning as td3_learning
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition


@flax.struct.dataclass
class AgentState:
    """AIL's state: the base agent's, and the discriminator's flat parameters and Adam state."""

    base: Any
    discriminator_params: Array
    discriminator_opt_state: Any


def discriminator_inputs(observation: Array, action: Array, absorbing: Array | float = 0.0) -> Array:
    """[..., obs + act + 1]: the flattened observation, the action and the absorbing-state flag."""
    batch = action.shape[:-1]
    flag = jnp.broadcast_to(jnp.asarray(absorbing, jnp.float32), batch + (1,))
    return jnp.concatenate([observation.reshape(batch + (-1,)), action, flag], axis=-1)


def make_agent(config: Any, spec: EnvSpec) -> Agent:
    """AIL's `Agent` bundle: the base agent's acting, its learner fed the discriminator's rewards."""
    base = (sac_learning.make_agent if config.direct_rl == "sac" else td3_learning.make_agent)(config, spec)
    observation_size = int(jnp.prod(jnp.asarray(spec.observation.shape)))
    action_size = int(spec.action.shape[-1])
    size = observation_size + action_size + 1
    discriminator = networks.flat_network(Discriminator(tuple(config.hidden_sizes)),
                                          jnp.zeros((1, size), jnp.float32))
    # The absorbing state: no observation, no action, the flag set.
    absorbing = jnp.zeros((size,), jnp.float32).at[-1].set(1.0)
    shown = config.num_demonstration_rows
    pairs = min(shown, config.batch_size - shown)

    def optimizer(hparams: Any):
        return optim.adam(hparams.discriminator_learning_rate)

    def init(key: PRNGKey, spec: EnvSpec, hparams: Any) -> AgentState:
        base_key, discriminator_key = jax.random.split(key)
        params = discriminator.init(discriminator_key)
        return AgentState(base=base.init(base_key, spec, hparams), discriminator_params=params,
                          discriminator_opt_state=optimizer(hparams).init(params))

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey,
               hparams: Any) -> tuple[AgentState, Metrics]:
        penalty_key, base_key = jax.random.split(key)
        t = batch.transitions
        inputs = discriminator_inputs(t.observation, t.action)

        def loss_fn(params: Array) -> tuple[Array, Metrics]:
            logits = discriminator.apply(params, inputs)
            cross_entropy = losses.imitation.discriminator_loss(logits[:shown], logits[shown:])
            penalty = losses.imitation.gradient_penalty(lambda x: discriminator.apply(params, x), inputs[:pairs],
                                                        inputs[shown:shown + pairs], penalty_key)
            accuracy = jnp.mean(jnp.concatenate([logits[:shown] > 0, logits[shown:] < 0]).astype(jnp.float32))
            return cross_entropy + hparams.gradient_penalty_weight * penalty, {
                "discriminator_loss": cross_entropy, "gradient_penalty": penalty, "discriminator_accuracy": accuracy}

        grads, metrics = jax.grad(loss_fn, has_aux=True)(state.discriminator_params)
        params, opt_state = optim.step(optimizer(hparams), state.discriminator_params, grads,
                                       state.discriminator_opt_state)
        reward = losses.imitation.adversarial_reward(discriminator.apply(params, inputs))
        absorbing_reward = losses.imitation.adversarial_reward(discriminator.apply(params, absorbing[None]))[0]
        reward = reward + (1.0 - t.discount) * losses.imitation.absorbing_bonus(absorbing_reward, hparams.gamma)
        reward = jax.lax.stop_gradient(reward).astype(jnp.result_type(t.reward))
        relabelled = batch._replace(transitions=t._replace(reward=reward))
        base_state, base_metrics = base.update(state.base, relabelled, base_key, hparams)
        new_state = AgentState(base=base_state, discriminator_params=params, discriminator_opt_state=opt_state)
        return new_state, {**base_metrics, **metrics, "imitation_reward": jnp.mean(reward)}

    def act(state: AgentState, actor_state: Any, observation: Array, key: PRNGKey, hparams: Any,
            eval: bool = False, env_steps: Array | None = None):
        return base.act(state.base, actor_state, observation, key, hparams, eval, env_steps)

    return base._replace(
        init=init, act=act, update=update,
        init_actor=lambda agent_state, num_envs: base.init_actor(agent_state.base, num_envs),
        sync_actor=lambda actor_state, agent_state: base.sync_actor(actor_state, agent_state.base))


def make_train(config: Any, demonstrations: Transition | None = None) -> Train:
    """AIL's training program on `demonstrations` (a `Transition` of rows), or on the directory
    `config.demonstrations` if None: `train(key, hparams=None) -> TrainOutput`."""
    config_cls = type(config) if type(config) in Config.variants.values() else Config
    return builder.demonstrations_train(config, config_cls, make_agent, demonstrations)
