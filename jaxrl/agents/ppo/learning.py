"""PPO's learner: GAE advantages, then epochs of minibatch steps on the clipped objective
(Schulman et al. 2017, arXiv:1707.06347), run on the generic on-policy loop."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxrl import losses
from jaxrl.agents import builder
from jaxrl.agents.builder import AgentState
from jaxrl.agents.ppo.config import Config, HParams
from jaxrl.agents.ppo.networks import ActorCritic, make_network
from jaxrl.loops.common import Train
from jaxrl.loops.on_policy import trajectory_values
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition


class Minibatch(NamedTuple):
    observation: Any
    action: Array
    log_prob: Array
    value: Array
    advantage: Array
    target: Array


def training_batch(trajectory: Transition, values: Array, next_values: Array, hparams: HParams,
                   reshape: Callable[[Array], Array]) -> Minibatch:
    """PPO's training examples from a rollout [T, N, ...] and its values V(s_t), V(s'_t) [T, N]: GAE
    advantages (Schulman et al. 2016) and value targets advantages + values (GAE's lambda-returns),
    each field reshaped by `reshape` (PPO: into one batch; recurrent PPO: into sequences)."""
    advantages = losses.generalized_advantage_estimation(
        rewards=trajectory.reward,
        discounts=hparams.gamma * trajectory.discount,
        values=values,
        next_values=next_values,
        lambda_=hparams.gae_lambda,
        last=trajectory.last,
    )
    value, advantage = reshape(values), reshape(advantages)
    return Minibatch(
        observation=jax.tree.map(reshape, trajectory.observation),
        action=reshape(trajectory.action),
        log_prob=reshape(trajectory.extras["log_prob"]),
        value=value,
        advantage=advantage,
        target=advantage + value,
    )


def optimizer(config: Config, hparams: HParams) -> optax.GradientTransformation:
    """Adam (eps 1e-5, as PureJaxRL) after global-norm clipping; with `anneal_lr`, PureJaxRL's
    linear schedule: constant within an iteration's update, down to 0 over the run."""
    return builder.epochs_adam(config, hparams, decay_each_step=False, eps=1e-5)


def ppo_loss(
    config: Config, network: ActorCritic, params: Any, batch: Minibatch, hparams: HParams
) -> tuple[Array, Metrics]:
    """PPO's total loss on a minibatch: clipped surrogate + vf_coef * value loss - ent_coef * entropy."""
    policy, value = network.apply(params, batch.observation)
    return ppo_objective(config, policy, value, batch, hparams)


def ppo_objective(
    config: Config, policy: Any, value: Array, batch: Minibatch, hparams: HParams
) -> tuple[Array, Metrics]:
    """`ppo_loss` from the minibatch's policy and values, however they were computed (recurrent
    PPO unrolls its core over sequences to get them); every field of `batch` but `observation`
    is read, with the policy's and values' shape (any: the losses see them flattened)."""
    flat = lambda x: jnp.reshape(x, (-1,))  # noqa: E731
    log_ratio = flat(policy.log_prob(batch.action) - batch.log_prob)
    advantage = flat(batch.advantage)
    if config.normalize_advantages:
        advantage = losses.normalize_advantages(advantage)
    policy_loss = losses.ppo_clipped_surrogate_loss(log_ratio, advantage, hparams.clip_eps)
    value, old_value, target = flat(value), flat(batch.value), flat(batch.target)
    if config.clip_value_loss:
        value_loss = losses.clipped_value_loss(value, old_value, target, hparams.clip_eps)
    else:
        value_loss = losses.value_loss(value, target)
    # A tanh-Gaussian's entropy is its pre-squash Gaussian's, the usual proxy (networks.heads).
    entropy = jnp.mean(policy.entropy())
    total = policy_loss + hparams.vf_coef * value_loss - hparams.ent_coef * entropy
    # k3 estimator of KL(old || new) (Schulman 2020), a diagnostic only.
    approx_kl = jnp.mean(jnp.expm1(log_ratio) - log_ratio)
    metrics = {
        "total_loss": total,
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "approx_kl": approx_kl,
    }
    return total, metrics


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """PPO's `Agent` bundle for an environment `spec`."""
    network = make_network(spec, config.hidden_sizes, config.activation, config.continuous_policy,
                           config.init_log_std, config.torso)
    batch_size = config.batch_size

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        dummy = jnp.zeros((1,) + spec.observation.shape, jnp.float32)
        return builder.fresh_agent_state(network, optimizer(config, hparams), key, dummy)

    def act(state: AgentState, actor_state: None, observation: Array, key: PRNGKey, hparams: HParams,
            eval: bool = False, env_steps: Array | None = None):
        policy = network.apply(state.params, observation, method=ActorCritic.policy)
        if not eval:
            # The behaviour log-probability is kept with the transition: the update then needs
            # no policy pass over the whole batch before its first minibatch. It is `log_prob`
            # of the action, the update's own formula, so a tanh-squashed action that saturated
            # gets the same (edge-clipped) value in both and the first ratio stays 1.
            action = policy.sample(key)
            return action, actor_state, {"log_prob": policy.log_prob(action)}
        # argmax for discrete actions; the Gaussian's mean clipped to the [-1, 1] box the env
        # clips to; tanh of the pre-squash mean.
        return policy.greedy_action(), actor_state, {}

    def update(state: AgentState, trajectory: Transition, key: PRNGKey, hparams: HParams):
        def flat(x):
            return jnp.reshape(x, (batch_size,) + x.shape[2:])

        # V(s_t) and V(s'_t): one critic call over the T * N observations and the N final
        # successors, plus one over the successors of truncated steps, if there are any.
        values, next_values = trajectory_values(
            lambda observation: network.apply(state.params, observation, method=ActorCritic.value),
            trajectory.observation, trajectory.next_observation, trajectory.last, trajectory.discount,
        )
        batch = training_batch(trajectory, values, next_values, hparams, flat)
        return builder.epochs_update(config, state, batch, key,
                                     lambda p, mb: ppo_loss(config, network, p, mb, hparams),
                                     optimizer(config, hparams))

    return Agent(init=init, act=act, update=update)


def make_train(config: Config) -> Train:
    """PPO's training program: `train(key, hparams=None) -> TrainOutput`.

    Raises ValueError for an unknown environment or an option that does not fit it, before
    anything is traced or compiled.
    """
    return builder.on_policy_train(config, Config, make_agent, rollout_length=config.rollout_length)
