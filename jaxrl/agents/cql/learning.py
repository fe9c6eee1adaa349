"""CQL's learners on the generic offline loop (Kumar et al. 2020, arXiv:2006.04779).

Continuous actions: SAC's update (`sac.learning.sac_update`) whose critics' loss gains the
conservative penalty, its logsumexp over actions estimated from `num_sampled_actions` actions per
state drawn from each of three proposals (uniform on [-1, 1]^A, pi(.|s) and pi(.|s'), all scored at
s), each weighted by 1 / its density (the authors' importance-sampled CQL(H)). Discrete actions:
double Q-learning on a Q-network plus the exact penalty logsumexp_a Q(s, a) - Q(s, a_data), one
Adam step per batch and a Polyak step of the target network.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jaxrl import losses, networks, optim
from jaxrl.agents import builder
from jaxrl.agents.cql.config import Config, HParams
from jaxrl.agents.cql.networks import make_networks
from jaxrl.agents.dqn.learning import greedy_q_learner
from jaxrl.agents.sac.learning import make_agent as sac_make_agent
from jaxrl.agents.sac.learning import sac_update
from jaxrl.loops import off_policy, offline
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition


def continuous_penalty(actor: networks.FlatNetwork, critic: networks.FlatNetwork, actor_params: Array,
                       critic_params: Array, transitions: Transition, key: PRNGKey,
                       num_samples: int) -> tuple[Array, Metrics]:
    """The conservative penalty of every critic, summed: E_s[logsumexp_j (Q(s, a_j) - log mu(a_j)) -
    Q(s, a_data)] over 3 * `num_samples` actions a_j per state (uniform, pi(.|s), pi(.|s')), with the
    policy's samples and log-densities held constant. Differentiable in `critic_params` only."""
    t = transitions
    batch_size, action_size = t.action.shape
    repeat = lambda x: jnp.repeat(x, num_samples, axis=0)  # noqa: E731  [B * N, ...], each state N times
    uniform_key, current_key, next_key = jax.random.split(key, 3)
    uniform = jax.random.uniform(uniform_key, (batch_size * num_samples, action_size), minval=-1.0, maxval=1.0)
    # The policy network runs once per state (the same draws as over the repeated states).
    policy = lambda x: networks.repeat_policy(actor.apply(actor_params, x), num_samples)  # noqa: E731
    current, current_log_prob = policy(t.observation).sample_and_log_prob(seed=current_key)
    following, next_log_prob = policy(t.next_observation).sample_and_log_prob(seed=next_key)
    actions = jax.lax.stop_gradient(jnp.concatenate([uniform, current, following]))
    log_density = jnp.concatenate([jnp.full((batch_size * num_samples,), -action_size * jnp.log(2.0)),
                                   current_log_prob, next_log_prob])
    observations = jnp.concatenate([repeat(t.observation)] * 3)
    q = critic.apply(critic_params, observations, actions)  # [K, 3 * B * N], proposal-major
    num_critics = q.shape[0]

    def per_state(x: Array) -> Array:  # [..., 3 * B * N] -> [..., B, 3 * N]
        x = x.reshape(x.shape[:-1] + (3, batch_size, num_samples))
        return jnp.moveaxis(x, -3, -2).reshape(x.shape[:-3] + (batch_size, 3 * num_samples))

    q_data = critic.apply(critic_params, t.observation, t.action)
    penalty = losses.conservative_penalty(per_state(q), q_data, jax.lax.stop_gradient(per_state(log_density)))
    return penalty, {"cql_penalty": penalty / num_critics}


def discrete_loss(network: networks.FlatNetwork, params: Array, target_params: Array,
                  batch: off_policy.ReplayBatch, hparams: HParams) -> tuple[Array, Metrics]:
    """Double Q-learning's squared TD error (halved) plus `min_q_weight` times the exact penalty
    mean(logsumexp_a Q(s, a) - Q(s, a_data))."""
    t = batch.transitions
    q = network.apply(params, t.observation)
    next_online = network.apply(jax.lax.stop_gradient(params), t.next_observation)
    next_target = network.apply(target_params, t.next_observation)
    discount = off_policy.bootstrap_discount(t, hparams.gamma, 1)
    td_errors = losses.q_learning_td_errors(q, t.action, t.reward, discount, next_target, next_online)
    td_loss = jnp.mean(0.5 * jnp.square(td_errors))
    q_data = jnp.take_along_axis(q, t.action[:, None], axis=-1)[:, 0]
    penalty = losses.conservative_penalty(q, q_data)
    loss = td_loss + hparams.min_q_weight * penalty
    return loss, {"loss": loss, "td_loss": td_loss, "cql_penalty": penalty, "q_mean": jnp.mean(q_data)}


def _discrete_agent(config: Config, spec: EnvSpec) -> Agent:
    (module,) = make_networks(spec, config.hidden_sizes, config.activation)
    network = networks.flat_network(module, jnp.zeros((1,) + spec.observation.shape, jnp.float32))
    return greedy_q_learner(network, functools.partial(discrete_loss, network),
                            lambda hparams: optim.adam(hparams.critic_learning_rate))


def _continuous_agent(config: Config, spec: EnvSpec) -> Agent:
    """SAC's agent (its state, init and acting) whose update adds the conservative penalty."""
    actor, critic = builder.flat_actor_critic(spec, *make_networks(spec, config.hidden_sizes, config.activation))
    action_size = int(spec.action.shape[-1])

    def update(state: Any, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        def penalty(critic_params: Array, key: PRNGKey) -> tuple[Array, Metrics]:
            loss, metrics = continuous_penalty(actor, critic, state.actor_params, critic_params, batch.transitions,
                                               key, config.num_sampled_actions)
            return hparams.min_q_weight * loss, metrics

        return sac_update(actor, critic, action_size, 1, state, batch, key, hparams,
                          backup_entropy=config.backup_entropy, critic_penalty=penalty)

    return sac_make_agent(config, spec)._replace(update=update)


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """CQL's `Agent` bundle for an environment `spec`: on DQN's network for discrete actions, on
    SAC's learner for continuous ones."""
    return _discrete_agent(config, spec) if spec.discrete_actions else _continuous_agent(config, spec)


def make_train(config: Config, dataset: Transition | None = None) -> offline.OfflineTrain:
    """CQL's offline program on `dataset` (a `Transition` of rows), or on the directory
    `config.dataset` if None: `train(key, hparams=None, dataset=None)`."""
    return builder.offline_train(config, Config, make_agent, dataset)
