"""PWIL's program: the base agent (SAC's, TD3's or PPO's `make_agent`) whose actor turns each step
it stores into PWIL's reward (`Agent.observe`), carrying the demonstrations' unused masses per env
in its state; SAC and TD3 also replay demonstration rows of reward alpha
(`builder.demonstrations_train`)."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import losses
from jaxrl.agents import builder
from jaxrl.agents.config import family_class
from jaxrl.agents.ppo import learning as ppo_learning
from jaxrl.agents.pwil.config import Config, PPOConfig
from jaxrl.agents.sac import learning as sac_learning
from jaxrl.agents.td3 import learning as td3_learning
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Transition

BASES = {"sac": sac_learning.make_agent, "td3": td3_learning.make_agent, "ppo": ppo_learning.make_agent}


@flax.struct.dataclass
class ActorState:
    """PWIL's actor state: the base actor's, and each env's expert masses not yet coupled in its
    episode, [num_envs, M] (1/M each where an episode starts)."""

    base: Any
    remaining: Array


def pairs(observation: Array, action: Array, spec: EnvSpec) -> Array:
    """[..., obs + act]: flattened observations and actions (one-hot for discrete actions), the
    atoms PWIL couples; leading axes those of `action` (discrete: of the indices)."""
    batch = action.shape if spec.discrete_actions else action.shape[:-1]
    if spec.discrete_actions:
        action = jax.nn.one_hot(action, spec.action.num_values)
    return jnp.concatenate([jnp.reshape(observation, batch + (-1,)).astype(jnp.float32),
                            action.astype(jnp.float32)], axis=-1)


def expert_atoms(demonstrations: Transition, spec: EnvSpec) -> tuple[Array, Array]:
    """The demonstrations' pairs [M, D] divided by their per-dimension standard deviation (1 where
    a dimension never varies), and that scale [D], by which the agent's pairs are divided too."""
    atoms = np.asarray(pairs(jnp.asarray(demonstrations.observation), jnp.asarray(demonstrations.action), spec))
    scale = atoms.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0).astype(np.float32)
    return jnp.asarray(atoms / scale), jnp.asarray(scale)


def make_acting_agent(config: Any, spec: EnvSpec) -> Agent:
    """The agent a saved PWIL policy acts with: the base agent's (same state, no rewarder)."""
    return BASES[config.direct_rl](config, spec)


def make_agent(config: Any, spec: EnvSpec, demonstrations: Transition | None = None) -> Agent:
    """PWIL's `Agent` bundle: the base agent's, its actor rewarding each stored step by its greedy
    coupling to `demonstrations` (rows). Without them the agent can act but not store steps."""
    base = make_acting_agent(config, spec)
    if demonstrations is None:

        def cannot_observe(actor_state: Any, transition: Transition) -> tuple[Any, Transition]:
            raise ValueError("pwil.make_agent: PWIL's actor rewards steps only with demonstrations (this agent "
                             "can act only)")

        return base._replace(observe=cannot_observe)
    atoms, scale = expert_atoms(demonstrations, spec)
    count = atoms.shape[0]
    horizon = config.horizon(spec)

    def init_actor(agent_state: Any, num_envs: int) -> ActorState:
        return ActorState(base=base.init_actor(agent_state, num_envs),
                          remaining=jnp.full((num_envs, count), 1.0 / count, jnp.float32))

    def reset_actor(actor_state: ActorState, last: Array) -> ActorState:
        remaining = jnp.where(last[:, None], 1.0 / count, actor_state.remaining)
        return ActorState(base=base.reset_actor(actor_state.base, last), remaining=remaining)

    def observe(actor_state: ActorState, transition: Transition) -> tuple[ActorState, Transition]:
        """Each env's step coupled to the expert masses its episode left, its reward PWIL's."""
        agent_pairs = pairs(transition.observation, transition.action, spec) / scale
        cost, remaining = jax.vmap(losses.imitation.greedy_coupling, in_axes=(None, 0, 0, None))(
            atoms, actor_state.remaining, agent_pairs, 1.0 / horizon)
        reward = losses.imitation.pwil_reward(cost, config.reward_scale, config.reward_bandwidth, horizon,
                                              atoms.shape[-1])
        base_state, transition = base.observe(actor_state.base, transition)
        transition = transition._replace(reward=reward.astype(jnp.result_type(transition.reward)))
        return ActorState(base=base_state, remaining=remaining), transition

    def act(agent_state: Any, actor_state: ActorState, observation: Array, *args: Any, **kwargs: Any):
        action, base_state, extras = base.act(agent_state, actor_state.base, observation, *args, **kwargs)
        return action, actor_state.replace(base=base_state), extras

    return base._replace(
        act=act, init_actor=init_actor, reset_actor=reset_actor, observe=observe,
        sync_actor=lambda actor_state, agent_state: actor_state.replace(
            base=base.sync_actor(actor_state.base, agent_state)))


def make_train(config: Any, demonstrations: Transition | None = None) -> Train:
    """PWIL's training program on `demonstrations` (a `Transition` of rows), or on the directory
    `config.demonstrations` if None: `train(key, hparams=None) -> TrainOutput`."""
    config_cls = family_class(Config, config)
    builder.check_config_class(config, config_cls)
    demonstrations = builder.checked_demonstrations(config, demonstrations)

    def make(c: Any, spec: EnvSpec) -> Agent:
        return make_agent(c, spec, demonstrations)

    if config_cls is PPOConfig:
        return builder.on_policy_train(config, config_cls, make, rollout_length=config.rollout_length)
    # The demonstrations' own rows, each coupled to itself at no cost: reward alpha.
    shown = demonstrations._replace(reward=jnp.full_like(jnp.asarray(demonstrations.reward), config.reward_scale))
    return builder.demonstrations_train(config, config_cls, make, shown)
