"""What the continuous-control off-policy agents (DDPG, TD3, SAC, D4PG) share outside their math:
range checks of the Config fields they all have, their env-step counts translated to the
off-policy loop's update periods, the environment, Gaussian exploration, the Adam step on flat
parameter vectors, the state, actor and parameter step of the agents with a deterministic actor
(DDPG, TD3, D4PG), and the assembly of the training program.

Counts (`total_timesteps`, `learning_starts`, `train_every`, `steps_per_iteration`) are
environment steps summed over the env batch, as DQN's: every `train_every` env steps are
followed by `updates_per_step` gradient updates, so `updates_per_step / train_every` is the
number of updates per env step (the "replay ratio").
"""

from __future__ import annotations

import math
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxrl import envs, networks, replay
from jaxrl.agents.config_checks import finite_in, requirer
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, PRNGKey

# Learning rates are applied outside the transformation, so they can be traced (vmapped) arrays.
ADAM = optax.scale_by_adam()


def period_env_steps(config: Any) -> int:
    """Env steps per update period: `train_every`, or one step of the env batch if that is more."""
    return max(config.train_every, config.num_envs)


def check_common(config: Any, agent: str) -> None:
    """Checks the fields every continuous off-policy Config has; ValueError naming the field."""
    require = requirer(config, agent)

    def is_int(x: Any, minimum: int) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x >= minimum

    require(isinstance(config.env, str) and bool(config.env), "env", "must be an environment name")
    for field in ("num_envs", "total_timesteps", "buffer_size", "batch_size", "train_every", "updates_per_step",
                  "steps_per_iteration"):
        require(is_int(getattr(config, field), 1), field, "must be an int >= 1")
    require(is_int(config.learning_starts, 0), "learning_starts", "must be an int >= 0")
    # The loop acts in whole steps of the env batch and learns after whole update periods.
    require(config.train_every % config.num_envs == 0 or config.num_envs % config.train_every == 0, "train_every",
            f"must be a multiple or a divisor of num_envs={config.num_envs}")
    period = period_env_steps(config)
    require(config.steps_per_iteration % period == 0, "steps_per_iteration",
            f"must be a multiple of the update period max(train_every, num_envs) = {period}")
    require(config.total_timesteps % config.steps_per_iteration == 0, "total_timesteps",
            f"must be a multiple of steps_per_iteration={config.steps_per_iteration}")
    require(config.learning_starts % config.num_envs == 0, "learning_starts",
            f"must be a multiple of num_envs={config.num_envs}")
    require(config.learning_starts < config.total_timesteps, "learning_starts",
            f"must be less than total_timesteps={config.total_timesteps}, or the agent never learns")
    require(config.batch_size <= config.buffer_size, "batch_size", f"must be <= buffer_size={config.buffer_size}")
    require(period <= config.buffer_size, "buffer_size", f"must hold one update period's {period} transitions")
    require(isinstance(config.hidden_sizes, (tuple, list)) and len(config.hidden_sizes) >= 1
            and all(is_int(h, 1) for h in config.hidden_sizes), "hidden_sizes",
            "must be a non-empty sequence of positive ints")
    require(config.episode_length is None or is_int(config.episode_length, 1), "episode_length",
            "must be an int >= 1 or None")
    require(is_int(config.eval_episodes, 1), "eval_episodes", "must be an int >= 1")
    for field in ("actor_learning_rate", "critic_learning_rate"):
        require(finite_in(getattr(config, field), 0.0, math.inf, low_open=True), field, "must be > 0")
    require(finite_in(config.gamma, 0.0, 1.0), "gamma", "must be in [0, 1]")
    require(finite_in(config.tau, 0.0, 1.0, low_open=True), "tau", "must be in (0, 1]")
    require(config.activation in networks.ACTIVATIONS, "activation", f"must be one of {sorted(networks.ACTIVATIONS)}")


def loop_schedule(config: Any) -> dict[str, int]:
    """The off-policy loop's arguments for the env-step counts of a checked `config`."""
    period = period_env_steps(config)
    return dict(
        num_iterations=config.total_timesteps // config.steps_per_iteration,
        periods_per_iteration=config.steps_per_iteration // period,
        period_steps=period // config.num_envs,
        updates_per_period=config.updates_per_step * period // config.train_every,
        warmup_steps=config.learning_starts // config.num_envs,
    )


def check_continuous_actions(spec: EnvSpec, agent: str) -> None:
    """ValueError naming the environment if its actions are discrete."""
    if spec.discrete_actions:
        raise ValueError(
            f"{agent}.Config.env: {agent.upper()} needs continuous actions, but {spec.name} has discrete "
            f"actions ({spec.action}); use dqn or ppo for discrete actions"
        )


def make_env(config: Any, num_envs: int | None = None) -> envs.Environment:
    """The batched training environment, actions rescaled to [-1, 1] (`num_envs` overrides the
    config's, e.g. for evaluation; with `normalize_observations`, an evaluation env normalises
    with its own running statistics)."""
    return envs.make_batched(config.env, config.num_envs if num_envs is None else num_envs,
                             episode_length=config.episode_length, normalize_observations=config.normalize_observations)


def adam_step(params: Array, grads: Array, opt_state: Any, learning_rate: Array) -> tuple[Array, Any]:
    """One Adam step (Kingma & Ba 2015) on a flat parameter vector."""
    updates, opt_state = ADAM.update(grads, opt_state)
    return params - learning_rate * updates, opt_state


def gaussian_exploration(action: Array, key: PRNGKey, noise_scale: Array) -> Array:
    """clip(a + noise_scale * N(0, I), -1, 1): a deterministic actor's exploration (Fujimoto et al. 2018)."""
    return jnp.clip(action + noise_scale * jax.random.normal(key, action.shape, action.dtype), -1.0, 1.0)


@flax.struct.dataclass
class DeterministicAgentState:
    """The state of an agent with a deterministic actor (DDPG, TD3, D4PG).

    Parameters are flat vectors (`networks.flat_network`), so that Adam, the Polyak averages and
    TD3's delayed-update selects are one op each. `hparams` are kept for `act`, which is not
    handed them (its exploration noise scale).
    """

    actor_params: Array
    critic_params: Array
    target_actor_params: Array
    target_critic_params: Array
    actor_opt_state: Any
    critic_opt_state: Any
    num_updates: Array
    hparams: Any


def init_deterministic(actor: networks.FlatNetwork, critic: networks.FlatNetwork, key: PRNGKey,
                       hparams: Any) -> DeterministicAgentState:
    """Fresh parameters, targets equal to them, zeroed Adam moments."""
    actor_key, critic_key = jax.random.split(key)
    actor_params, critic_params = actor.init(actor_key), critic.init(critic_key)
    return DeterministicAgentState(
        actor_params=actor_params,
        critic_params=critic_params,
        target_actor_params=actor_params,
        target_critic_params=critic_params,
        actor_opt_state=ADAM.init(actor_params),
        critic_opt_state=ADAM.init(critic_params),
        num_updates=jnp.zeros((), jnp.int32),
        hparams=hparams,
    )


def deterministic_act(actor: networks.FlatNetwork) -> Callable:
    """`act` of a deterministic actor: mu(s), plus clipped Gaussian noise of scale
    `hparams.exploration_noise` unless `eval`."""

    def act(state: DeterministicAgentState, observation: Array, key: PRNGKey, eval: bool = False,
            env_steps: Array | None = None):
        action = actor.apply(state.actor_params, observation)
        if eval:
            return action, {}
        return gaussian_exploration(action, key, state.hparams.exploration_noise), {}

    return act


def deterministic_step(state: DeterministicAgentState, critic_grads: Array, actor_grads: Array, hparams: Any,
                       update_actor: Array | bool = True) -> DeterministicAgentState:
    """Adam steps on critic and actor, then Polyak averages target <- tau * online + (1 - tau) * target.

    Where `update_actor` is False (TD3's delayed updates) the actor, its Adam state and both
    targets stay as they were; only the critic moves.
    """
    critic_params, critic_opt_state = adam_step(state.critic_params, critic_grads, state.critic_opt_state,
                                                hparams.critic_learning_rate)
    actor_params, actor_opt_state = adam_step(state.actor_params, actor_grads, state.actor_opt_state,
                                              hparams.actor_learning_rate)
    if update_actor is not True:
        actor_params, actor_opt_state = jax.tree.map(
            lambda new, old: jnp.where(update_actor, new, old),
            (actor_params, actor_opt_state),
            (state.actor_params, state.actor_opt_state),
        )
    tau = jnp.where(update_actor, hparams.tau, 0.0)
    return state.replace(
        actor_params=actor_params,
        critic_params=critic_params,
        target_actor_params=optax.incremental_update(actor_params, state.target_actor_params, tau),
        target_critic_params=optax.incremental_update(critic_params, state.target_critic_params, tau),
        actor_opt_state=actor_opt_state,
        critic_opt_state=critic_opt_state,
        num_updates=state.num_updates + 1,
    )


def make_train(config: Any, make_agent: Callable[[Any, EnvSpec], Agent], n_step: int = 1) -> Train:
    """The agent's program on the off-policy loop with a uniform buffer: `train(key, hparams=None)`.

    The environment is made, and `config.check_spec` run, before anything is traced.
    """
    env = make_env(config)
    agent = make_agent(config, env.spec())
    return off_policy.make_train(
        env,
        agent,
        replay.uniform(config.buffer_size, config.batch_size),
        n_step_length=n_step,
        default_hparams=config.hparams(),
        config=config,
        eval_env=make_env(config, config.eval_episodes),
        **loop_schedule(config),
    )
