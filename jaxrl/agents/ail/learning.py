"""AIL's program: the base agent (SAC's or TD3's `make_agent`) wrapped so that each update first
takes a discriminator step on the batch (its demonstration rows against the agent's own), then
hands the base agent the batch with the discriminator's rewards; on the off-policy loop with
demonstrations mixed into its replay (`builder.demonstrations_train`)."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import losses, networks, optim
from jaxrl.agents import builder
from jaxrl.agents.config import family_class
from jaxrl.agents.ail.config import Config, PPOConfig
from jaxrl.agents.ail.networks import Discriminator
from jaxrl.agents.ppo import learning as ppo_learning
from jaxrl.agents.sac import learning as sac_learning
from jaxrl.agents.td3 import learning as td3_learning
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition, no_actor_state


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


def make_agent(config: Any, spec: EnvSpec, demonstrations: Transition | None = None) -> Agent:
    """AIL's `Agent` bundle: the base agent's acting, its learner fed the discriminator's rewards.
    On PPO (GAIL) the discriminator samples `demonstrations` (rows) itself; without them the agent
    can act (a saved policy) but not learn."""
    base = {"sac": sac_learning.make_agent, "td3": td3_learning.make_agent,
            "ppo": ppo_learning.make_agent}[config.direct_rl](config, spec)
    observation_size = int(np.prod(spec.observation.shape))
    action_size = spec.action.num_values if spec.discrete_actions else int(spec.action.shape[-1])
    size = observation_size + action_size + 1
    discriminator = networks.flat_network(Discriminator(tuple(config.hidden_sizes)), jnp.zeros((1, size), jnp.float32))
    # The absorbing state: no observation, no action, the flag set.
    absorbing = jnp.zeros((size,), jnp.float32).at[-1].set(1.0)

    def inputs_of(t: Transition) -> Array:
        action = jax.nn.one_hot(t.action, action_size) if spec.discrete_actions else t.action
        return discriminator_inputs(t.observation, action)

    def optimizer(hparams: Any):
        return optim.adam(hparams.discriminator_learning_rate)

    def init(key: PRNGKey, spec: EnvSpec, hparams: Any) -> AgentState:
        base_key, discriminator_key = jax.random.split(key)
        params = discriminator.init(discriminator_key)
        return AgentState(base=base.init(base_key, spec, hparams), discriminator_params=params,
                          discriminator_opt_state=optimizer(hparams).init(params))

    def discriminator_step(state: AgentState, expert: Array, own: Array, expert_ends: Array, own_ends: Array,
                           key: PRNGKey, hparams: Any) -> tuple[Array, Any, Metrics]:
        """One Adam step of the discriminator on expert [E, D] against the agent's own [P, D]
        inputs; each terminated step (`*_ends`, [E] and [P]) adds the absorbing state to its side,
        so that D learns whose episodes end (DAC: without it D's reward there is extrapolation)."""
        pairs = min(expert.shape[0], own.shape[0])
        expert_ends, own_ends = expert_ends.astype(jnp.float32), own_ends.astype(jnp.float32)

        def loss_fn(params: Array) -> tuple[Array, Metrics]:
            expert_logits, own_logits = discriminator.apply(params, expert), discriminator.apply(params, own)
            absorbing_logit = discriminator.apply(params, absorbing[None])
            cross_entropy = losses.imitation.discriminator_loss(
                jnp.concatenate([expert_logits, absorbing_logit]), jnp.concatenate([own_logits, absorbing_logit]),
                jnp.concatenate([jnp.ones_like(expert_logits), jnp.sum(expert_ends)[None]]),
                jnp.concatenate([jnp.ones_like(own_logits), jnp.sum(own_ends)[None]]))
            penalty = losses.imitation.gradient_penalty(lambda x: discriminator.apply(params, x), expert[:pairs],
                                                        own[:pairs], key)
            accuracy = jnp.mean(jnp.concatenate([expert_logits > 0, own_logits < 0]).astype(jnp.float32))
            return cross_entropy + hparams.gradient_penalty_weight * penalty, {
                "discriminator_loss": cross_entropy, "gradient_penalty": penalty, "discriminator_accuracy": accuracy}

        grads, metrics = jax.grad(loss_fn, has_aux=True)(state.discriminator_params)
        params, opt_state = optim.step(optimizer(hparams), state.discriminator_params, grads,
                                       state.discriminator_opt_state)
        return params, opt_state, metrics

    def rewards(params: Array, inputs: Array, discount: Array, reward: Array, hparams: Any) -> Array:
        """The discriminator's rewards, plus the absorbing state's value on terminated steps."""
        if config.reward == "gail":  # GAIL's: a terminal step ends the rewards (no absorbing state)
            out = losses.imitation.gail_reward(discriminator.apply(params, inputs))
        else:
            out = losses.imitation.adversarial_reward(discriminator.apply(params, inputs))
            absorbing_reward = losses.imitation.adversarial_reward(discriminator.apply(params, absorbing[None]))[0]
            out = out + (1.0 - discount) * losses.imitation.absorbing_bonus(absorbing_reward, hparams.gamma)
        return jax.lax.stop_gradient(out).astype(jnp.result_type(reward))

    def replay_update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey,
                      hparams: Any) -> tuple[AgentState, Metrics]:
        """SAC or TD3: the batch's demonstration rows (first) against its own, then the base update."""
        penalty_key, base_key = jax.random.split(key)
        t = batch.transitions
        inputs = inputs_of(t)
        shown = config.num_demonstration_rows
        ends = t.discount == 0
        params, opt_state, metrics = discriminator_step(state, inputs[:shown], inputs[shown:], ends[:shown],
                                                        ends[shown:], penalty_key, hparams)
        reward = rewards(params, inputs, t.discount, t.reward, hparams)
        base_state, base_metrics = base.update(state.base, batch._replace(transitions=t._replace(reward=reward)),
                                               base_key, hparams)
        new_state = AgentState(base=base_state, discriminator_params=params, discriminator_opt_state=opt_state)
        return new_state, {**base_metrics, **metrics, "imitation_reward": jnp.mean(reward)}

    def rollout_update(state: AgentState, trajectory: Transition, key: PRNGKey,
                       hparams: Any) -> tuple[AgentState, Metrics]:
        """PPO (GAIL): the rollout [T, N] against as many demonstration rows, then PPO's update."""
        if demonstrations is None:
            raise ValueError("ail.make_agent: AIL on PPO learns only with demonstrations (this agent can act only)")
        sample_key, penalty_key, base_key = jax.random.split(key, 3)
        flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), trajectory._replace(extras={}))
        count = flat.reward.shape[0]
        rows = jax.random.randint(sample_key, (count,), 0, demonstrations.reward.shape[0])
        shown = jax.tree.map(lambda x: jnp.asarray(x)[rows], demonstrations._replace(extras={}))
        own = inputs_of(flat)
        params, opt_state, metrics = discriminator_step(state, inputs_of(shown), own, shown.discount == 0,
                                                        flat.discount == 0, penalty_key, hparams)
        reward = rewards(params, own, flat.discount, flat.reward, hparams).reshape(trajectory.reward.shape)
        base_state, base_metrics = base.update(state.base, trajectory._replace(reward=reward), base_key, hparams)
        new_state = AgentState(base=base_state, discriminator_params=params, discriminator_opt_state=opt_state)
        return new_state, {**base_metrics, **metrics, "imitation_reward": jnp.mean(reward)}

    def act(state: AgentState, actor_state: Any, observation: Array, key: PRNGKey, hparams: Any,
            eval: bool = False, env_steps: Array | None = None):
        return base.act(state.base, actor_state, observation, key, hparams, eval, env_steps)

    return base._replace(
        init=init, act=act, update=rollout_update if config.direct_rl == "ppo" else replay_update,
        # A base agent without actor state keeps `no_actor_state`, which makes its policy a plain
        # `Policy` (a wrapper here made every AIL policy a StatefulPolicy, which collect refuses).
        init_actor=base.init_actor if base.init_actor is no_actor_state
        else lambda agent_state, num_envs: base.init_actor(agent_state.base, num_envs),
        sync_actor=lambda actor_state, agent_state: base.sync_actor(actor_state, agent_state.base))


def make_train(config: Any, demonstrations: Transition | None = None) -> Train:
    """AIL's training program on `demonstrations` (a `Transition` of rows), or on the directory
    `config.demonstrations` if None: `train(key, hparams=None) -> TrainOutput`."""
    config_cls = family_class(Config, config)
    if config_cls is not PPOConfig:
        return builder.demonstrations_train(config, config_cls, make_agent, demonstrations)
    demonstrations = builder.checked_demonstrations(config, demonstrations)
    return builder.on_policy_train(config, config_cls, lambda c, spec: make_agent(c, spec, demonstrations),
                                   rollout_length=config.rollout_length)
