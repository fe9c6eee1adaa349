"""PQN's actor and learner (Gallici et al. 2024, "Simplifying Deep Temporal Difference Learning",
arXiv:2407.04811), run on the generic on-policy loop.

Many parallel envs replace the replay buffer and LayerNorm replaces the target network: each
iteration rolls out every env with an epsilon-greedy actor, forms Q(lambda) targets over the
rollout from the current network, and takes epochs of minibatch steps on the squared error.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax.numpy as jnp
import optax

from jaxrl import losses
from jaxrl.agents import builder, exploration
from jaxrl.agents.builder import AgentState
from jaxrl.agents.pqn.config import Config, HParams
from jaxrl.agents.pqn.networks import QNetwork, make_network
from jaxrl.loops.common import Train
from jaxrl.loops.on_policy import trajectory_values
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition


class Minibatch(NamedTuple):
    observation: Any
    action: Array
    target: Array


def _optimizer(config: Config, hparams: HParams) -> optax.GradientTransformation:
    """Adam after global-norm clipping; with `anneal_lr`, the rate falls linearly to 0 over the
    run's gradient steps (purejaxql's schedule)."""
    return builder.epochs_adam(config, hparams, decay_each_step=True)


def epsilon(config: Config, hparams: HParams, env_steps: Array) -> Array:
    """The actor's exploration rate after `env_steps` env steps."""
    return config.epsilon(hparams, env_steps)  # the schedule lives with its fields (EpsilonGreedyConfig)


def pqn_loss(network: QNetwork, params: Any, batch: Minibatch) -> tuple[Array, Metrics]:
    """Half the mean squared error between Q(s, a) and the Q(lambda) targets."""
    q = network.apply(params, batch.observation)
    q_taken = jnp.take_along_axis(q, batch.action[:, None], axis=-1)[:, 0]
    chex.assert_equal_shape([q_taken, batch.target])
    loss = 0.5 * jnp.mean(jnp.square(q_taken - batch.target))
    return loss, {"loss": loss, "q_mean": jnp.mean(q_taken)}


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """PQN's `Agent` bundle for an environment `spec`."""
    network = make_network(spec, config.hidden_sizes, config.activation, config.layer_norm, config.torso)
    num_actions = spec.action.num_values
    batch_size = config.batch_size

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        dummy = jnp.zeros((1,) + spec.observation.shape, jnp.float32)
        return builder.fresh_agent_state(network, _optimizer(config, hparams), key, dummy)

    def act(state: AgentState, actor_state: None, observation: Array, key: PRNGKey, hparams: HParams,
            eval: bool = False, env_steps: Array | None = None):
        q = network.apply(state.params, observation)
        greedy = jnp.argmax(q, axis=-1).astype(jnp.int32)
        if eval:
            return greedy, actor_state, {}
        if env_steps is None:
            env_steps = jnp.zeros((), jnp.int32)
        action = exploration.epsilon_greedy(key, greedy, num_actions, epsilon(config, hparams, env_steps))
        # max_a Q(s_t, a) from the parameters the update starts from: its targets need it for
        # every stored observation, so the update skips a Q pass over the whole batch.
        return action, actor_state, {"max_q": jnp.max(q, axis=-1)}

    def update(state: AgentState, trajectory: Transition, key: PRNGKey, hparams: HParams):
        def flat(x):
            return jnp.reshape(x, (batch_size,) + x.shape[2:])

        # max_a Q(s'_t, a): the actor's values shifted by one step, plus the N final successors
        # and the successors of truncated steps, which the actor never saw.
        _, next_values = trajectory_values(
            lambda observation: jnp.max(network.apply(state.params, observation), axis=-1),
            trajectory.observation, trajectory.next_observation, trajectory.last, trajectory.discount,
            values=trajectory.extras["max_q"],
        )
        targets = losses.lambda_returns(
            rewards=hparams.reward_scale * trajectory.reward,
            discounts=hparams.gamma * trajectory.discount,
            next_values=next_values,
            lambda_=hparams.td_lambda,
            last=trajectory.last,
        )
        batch = Minibatch(observation=flat(trajectory.observation), action=flat(trajectory.action),
                          target=flat(targets))
        return builder.epochs_update(config, state, batch, key, lambda p, mb: pqn_loss(network, p, mb),
                                     _optimizer(config, hparams))

    return Agent(init=init, act=act, update=update)


def make_train(config: Config) -> Train:
    """PQN's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or one without discrete actions, before
    anything is traced or compiled.
    """
    return builder.on_policy_train(config, Config, make_agent, rollout_length=config.rollout_length)
