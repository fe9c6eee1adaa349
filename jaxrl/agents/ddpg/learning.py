"""DDPG's actor and learner (Lillicrap et al. 2016, "Continuous control with deep reinforcement
learning", arXiv:1509.02971), run on the generic off-policy loop, and the pieces of every agent
with a deterministic actor, which TD3 and D4PG import: the state, the exploring actor (Gaussian
or Ornstein-Uhlenbeck noise), and the Adam + Polyak step.

The actor acts with mu(s) plus Gaussian noise, or plus the paper's Ornstein-Uhlenbeck noise.
Each update regresses the critic on r + gamma * d * Q'(s', mu'(s')) of the target networks, moves
the actor along the deterministic policy gradient dQ/da * dmu/dtheta (Silver et al. 2014), and
Polyak-averages both targets.
With `n_step` > 1 the target is the n-step return bootstrapped from the n-th next state.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp

from jaxrl import losses, networks, optim
from jaxrl.agents import builder
from jaxrl.agents.ddpg.config import Config, HParams
from jaxrl.agents.ddpg.networks import make_networks
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey


@flax.struct.dataclass
class AgentState:
    """The state of an agent with a deterministic actor (DDPG, TD3, D4PG).

    Parameters are flat vectors (`networks.flat_network`), so that Adam, the Polyak averages and
    TD3's delayed-update selects are one op each.
    """

    actor_params: Array
    critic_params: Array
    target_actor_params: Array
    target_critic_params: Array
    actor_opt_state: Any
    critic_opt_state: Any
    num_updates: Array


def init_deterministic(actor: networks.FlatNetwork, critic: networks.FlatNetwork, key: PRNGKey,
                       hparams: Any) -> AgentState:
    """Fresh parameters, targets equal to them, zeroed Adam moments."""
    fresh = builder.init_actor_critic(actor, critic, key, hparams)
    return AgentState(**fresh._asdict(), target_actor_params=fresh.actor_params,
                      target_critic_params=fresh.critic_params, num_updates=jnp.zeros((), jnp.int32))


def gaussian_exploration(action: Array, key: PRNGKey, noise_scale: Array) -> Array:
    """clip(a + noise_scale * N(0, I), -1, 1): a deterministic actor's exploration (Fujimoto et al. 2018)."""
    return jnp.clip(action + noise_scale * jax.random.normal(key, action.shape, action.dtype), -1.0, 1.0)


def ou_noise_step(noise: Array, key: PRNGKey, noise_scale: Array, theta: float) -> Array:
    """One step of the Ornstein-Uhlenbeck exploration noise of DDPG (Lillicrap et al. 2016;
    Uhlenbeck & Ornstein 1930), discretised as the AR(1) process

        n' = (1 - theta) * n + noise_scale * sqrt(1 - (1 - theta)^2) * N(0, I),

    whose stationary standard deviation is `noise_scale` (so `exploration_noise` means the same
    for both kinds of noise) and whose correlation after k steps is (1 - theta)^k."""
    keep = 1.0 - theta
    fresh = jnp.sqrt(1.0 - keep * keep) * jax.random.normal(key, noise.shape, noise.dtype)
    return keep * noise + noise_scale * fresh


def deterministic_actor(actor: networks.FlatNetwork, config: Config, spec: EnvSpec) -> dict[str, Callable]:
    """The actor functions of an agent with a deterministic actor (`Agent` fields `act`, and for
    Ornstein-Uhlenbeck noise `init_actor` and `reset_actor`).

    `act` returns mu(s) where `eval`, else mu(s) plus noise, clipped to [-1, 1]: Gaussian of scale
    `hparams.exploration_noise` (`config.exploration="gaussian"`), or one `ou_noise_step` of the
    actor state, a noise vector per env that starts at zero and is zeroed where an episode ends,
    as the paper resets its process per episode (`"ou"`). The greedy action never reads the noise.
    """

    def gaussian_act(state: AgentState, actor_state: None, observation: Array, key: PRNGKey, hparams: Any,
                     eval: bool = False, env_steps: Array | None = None):
        action = actor.apply(state.actor_params, observation)
        if eval:
            return action, actor_state, {}
        return gaussian_exploration(action, key, hparams.exploration_noise), actor_state, {}

    if config.exploration == "gaussian":
        return dict(act=gaussian_act)
    action_shape = spec.action.shape

    def init_actor(state: AgentState, num_envs: int) -> Array:
        return jnp.zeros((num_envs,) + action_shape, jnp.float32)

    def reset_actor(noise: Array, last: Array) -> Array:
        return jnp.where(jnp.reshape(last, last.shape + (1,) * len(action_shape)), 0.0, noise)

    def ou_act(state: AgentState, noise: Array, observation: Array, key: PRNGKey, hparams: Any,
               eval: bool = False, env_steps: Array | None = None):
        action = actor.apply(state.actor_params, observation)
        if eval:
            return action, noise, {}
        noise = ou_noise_step(noise, key, hparams.exploration_noise, config.ou_theta)
        return jnp.clip(action + noise, -1.0, 1.0), noise, {}

    return dict(act=ou_act, init_actor=init_actor, reset_actor=reset_actor)


def deterministic_step(state: AgentState, critic_grads: Array, actor_grads: Array, hparams: Any) -> AgentState:
    """Adam steps on critic and actor, then Polyak averages target <- tau * online + (1 - tau) * target."""
    return state.replace(**builder.step_actor_critic_and_targets(hparams, state, critic_grads, actor_grads),
                         num_updates=state.num_updates + 1)


def deterministic_update(state: AgentState, actor: networks.FlatNetwork, observation: Array,
                         critic_loss: Callable[[Array], Array], q_value: Callable[[Array, Array, Array], Array],
                         hparams: Any, dqda_clipping: float | None = None,
                         update_actor: Array | bool = True,
                         behaviour: tuple[Array, Array] | None = None) -> tuple[AgentState, Metrics]:
    """One learner step of a deterministic actor-critic (DDPG, TD3, D4PG): the critic's
    `critic_loss(critic_params)`, and the actor's deterministic policy gradient (Silver et al.
    2014) of `q_value(critic_params, observation, action)` with the critic frozen, in one backward
    pass (the two losses depend on disjoint parameters); then `deterministic_step`.

    Where `update_actor` is False (TD3's delayed updates) only the critic takes its Adam step; the
    actor, its Adam state and both targets stay as they were, and the actor's backward pass is not
    run (a `lax.cond`: it stays one under `vmap` when the predicate is unbatched, as the loops'
    shared update count is, `loops.common.shared_counters`). The actor's metrics are reported on
    every step alike, from forward passes.

    With `behaviour` = (the batch's actions, alpha) the actor's objective is TD3+BC's (Fujimoto &
    Gu 2021): lambda * the DPG loss + (mu(s) - a)^2, lambda = alpha / mean|Q(s, mu(s))|."""

    def actor_objective(actor_loss: Array, q: Array, action: Array) -> tuple[Array, Metrics]:
        # Reported: the objective -E[Q(s, mu(s))], whose gradient rlax's DPG loss has.
        metrics = {"actor_loss": -jnp.mean(q), "q_mean": jnp.mean(q)}
        if behaviour is not None:
            dataset_action, alpha = behaviour
            weight = losses.td3_bc_lambda(q, alpha)
            cloning = losses.behaviour_cloning_mse(action, dataset_action)
            actor_loss = weight * actor_loss + cloning
            metrics.update(actor_loss=-weight * jnp.mean(q) + cloning, bc_loss=cloning, bc_lambda=weight)
        return actor_loss, metrics

    def loss_fn(params: tuple[Array, Array]) -> tuple[Array, Metrics]:
        critic_params, actor_params = params
        critic_loss_value = critic_loss(critic_params)
        frozen_critic = jax.lax.stop_gradient(critic_params)
        action = actor.apply(actor_params, observation)
        actor_loss, q = losses.deterministic_policy_gradient(
            lambda a: q_value(frozen_critic, observation, a), action, dqda_clipping)
        actor_loss, metrics = actor_objective(actor_loss, q, action)
        return critic_loss_value + actor_loss, {"critic_loss": critic_loss_value, **metrics}

    def with_actor(state: AgentState) -> tuple[AgentState, Metrics]:
        (critic_grads, actor_grads), metrics = jax.grad(loss_fn, has_aux=True)((state.critic_params,
                                                                                 state.actor_params))
        return deterministic_step(state, critic_grads, actor_grads, hparams), metrics

    if update_actor is True:
        return with_actor(state)

    def critic_only(state: AgentState) -> tuple[AgentState, Metrics]:
        critic_loss_value, critic_grads = jax.value_and_grad(critic_loss)(state.critic_params)
        action = actor.apply(state.actor_params, observation)
        q = q_value(state.critic_params, observation, action)
        # Nothing to differentiate on this branch: the actor objective is evaluated for its metrics.
        _, metrics = actor_objective(jnp.zeros(()), q, action)
        critic_params, critic_opt_state = optim.step(optim.adam(hparams.critic_learning_rate), state.critic_params,
                                                     critic_grads, state.critic_opt_state)
        return state.replace(critic_params=critic_params, critic_opt_state=critic_opt_state,
                             num_updates=state.num_updates + 1), {"critic_loss": critic_loss_value, **metrics}

    return jax.lax.cond(update_actor, with_actor, critic_only, state)


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """DDPG's `Agent` bundle for an environment `spec`."""
    actor, critic = builder.flat_actor_critic(spec, *make_networks(spec, config.hidden_sizes, config.activation))

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        return init_deterministic(actor, critic, key, hparams)

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        del key  # DDPG's update is deterministic given the batch
        t = batch.transitions
        next_action = actor.apply(state.target_actor_params, t.next_observation)
        next_q = critic.apply(state.target_critic_params, t.next_observation, next_action)
        targets = t.reward + off_policy.bootstrap_discount(t, hparams.gamma, config.n_step) * next_q
        return deterministic_update(
            state, actor, t.observation,
            lambda critic_params: losses.squared_td_loss(critic.apply(critic_params, t.observation, t.action), targets),
            critic.apply, hparams)

    return Agent(init=init, update=update, **deterministic_actor(actor, config, spec))


def make_train(config: Config) -> Train:
    """DDPG's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one with discrete actions, before anything
    is traced or compiled.
    """
    return builder.off_policy_train(config, Config, make_agent)
