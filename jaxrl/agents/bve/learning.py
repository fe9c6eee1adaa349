"""BVE's learner on the generic offline loop (Gulcehre et al. 2021, arXiv:2103.09575): SARSA on
the dataset's (s, a, r, s', a') tuples (`datasets.with_next_actions` adds a' to every row) plus the
ranking regulariser, one Adam step per batch and a Polyak step of the target network; the agent
acts greedily on the behaviour value it learns."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxrl import datasets, losses, networks, optim
from jaxrl.agents import builder
from jaxrl.agents.bve.config import Config, HParams
from jaxrl.agents.dqn.learning import greedy_q_learner
from jaxrl.agents.dqn.networks import make_network
from jaxrl.loops import off_policy, offline
from jaxrl.types import Agent, Array, EnvSpec, Metrics, Transition


def bve_loss(network: networks.FlatNetwork, params: Array, target_params: Array, batch: off_policy.ReplayBatch,
             hparams: HParams) -> tuple[Array, Metrics]:
    """(Q(s, a) - r - gamma * d * Q'(s', a'))^2 / 2 with the dataset's next action a', averaged over
    the batch (rows whose a' is unknown, at a time-limit cut, count as zero), plus `ranking_weight`
    times `losses.ranking_loss`."""
    t = batch.transitions
    q = network.apply(params, t.observation)
    next_q = network.apply(target_params, t.next_observation)
    q_data = jnp.take_along_axis(q, t.action[:, None], axis=-1)[:, 0]
    next_value = jnp.take_along_axis(next_q, t.extras["next_action"][:, None], axis=-1)[:, 0]
    targets = t.reward + off_policy.bootstrap_discount(t, hparams.gamma, 1) * next_value
    td_errors = q_data - jax.lax.stop_gradient(targets)
    td_loss = jnp.mean(jnp.where(t.extras["next_action_known"], 0.5 * jnp.square(td_errors), 0.0))
    ranking = losses.ranking_loss(q, t.action, hparams.ranking_margin)
    loss = td_loss + hparams.ranking_weight * ranking
    return loss, {"loss": loss, "td_loss": td_loss, "ranking_loss": ranking, "q_mean": jnp.mean(q_data)}


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """BVE's `Agent` bundle for an environment `spec`."""
    module = make_network(spec, config.hidden_sizes, config.activation, dueling=False, num_atoms=None,
                          torso=config.torso)
    network = networks.flat_network(module, jnp.zeros((1,) + spec.observation.shape, jnp.float32))
    return greedy_q_learner(network, functools.partial(bve_loss, network),
                            lambda hparams: optim.adam(hparams.learning_rate, hparams.max_grad_norm))


def make_train(config: Config, dataset: Transition | None = None) -> offline.OfflineTrain:
    """BVE's offline program on `dataset` (a `Transition` of rows), or on the directory
    `config.dataset` if None: `train(key, hparams=None, dataset=None)`."""
    return builder.offline_train(config, Config, make_agent, dataset, prepare=datasets.with_next_actions)
