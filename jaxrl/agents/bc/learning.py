"""BC's actor and learner on the generic offline loop: maximum likelihood of the dataset's
actions (cross-entropy for discrete actions, squared error or Gaussian log-likelihood for
continuous ones), one Adam step per sampled batch."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl import optim
from jaxrl.agents import builder
from jaxrl.agents.bc.config import Config, HParams
from jaxrl.agents.bc.networks import PolicyNetwork, make_network
from jaxrl.loops import off_policy, offline
from jaxrl.types import Agent, Array, EnvSpec, Metrics, PRNGKey, Transition

AgentState = builder.AgentState


def bc_loss(network: PolicyNetwork, params: Any, batch: off_policy.ReplayBatch) -> tuple[Array, Metrics]:
    """The mean negative log-likelihood of the batch's actions (cross-entropy for a categorical
    policy), or with a deterministic network the mean squared error to them (summed over action
    dimensions); metrics: `loss`, and `accuracy` of the greedy action for discrete actions."""
    t = batch.transitions
    out = network.apply(params, t.observation)
    if network.deterministic:
        loss = jnp.mean(jnp.sum(jnp.square(out - t.action), axis=-1))
        return loss, {"loss": loss}
    loss = -jnp.mean(out.log_prob(t.action))
    metrics = {"loss": loss}
    if network.discrete:
        metrics["accuracy"] = jnp.mean((out.greedy_action() == t.action).astype(jnp.float32))
    return loss, metrics


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    network = make_network(spec, config.hidden_sizes, config.activation, config.loss, config.torso)

    def optimizer(hparams: HParams):
        return optim.adam(hparams.learning_rate, hparams.max_grad_norm)

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        observation = jnp.zeros((1,) + spec.observation.shape, jnp.float32)
        return builder.fresh_agent_state(network, optimizer(hparams), key, observation)

    def act(agent_state: AgentState, actor_state: None, observation: Array, key: PRNGKey, hparams: HParams,
            eval: bool = False, env_steps: Array | None = None) -> tuple[Array, None, dict]:
        out = network.apply(agent_state.params, observation)
        if network.deterministic:
            return out, actor_state, {}
        return (out.greedy_action() if eval else out.sample(key)), actor_state, {}

    def update(agent_state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey,
               hparams: HParams) -> tuple[AgentState, Metrics]:
        grads, metrics = jax.grad(lambda p: bc_loss(network, p, batch), has_aux=True)(agent_state.params)
        params, opt_state = optim.step(optimizer(hparams), agent_state.params, grads, agent_state.opt_state)
        return AgentState(params=params, opt_state=opt_state), metrics

    return Agent(init=init, act=act, update=update)


def make_train(config: Config, dataset: Transition | None = None) -> offline.OfflineTrain:
    """BC's offline program on `dataset` (a `Transition` of rows), or on the directory
    `config.dataset` if None: `train(key, hparams=None, dataset=None)`."""
    return builder.offline_train(config, Config, make_agent, dataset)
