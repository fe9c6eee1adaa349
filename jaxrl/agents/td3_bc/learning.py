"""TD3+BC's learner on the generic offline loop (Fujimoto & Gu 2021, arXiv:2106.06860): TD3's
update (`td3.learning.td3_update`: twin critics, target policy smoothing, delayed actor and
targets) with the behaviour-cloning term in the actor's objective; the actor acts greedily."""

from __future__ import annotations

from jaxrl.agents import builder
from jaxrl.agents.ddpg.learning import AgentState, init_deterministic
from jaxrl.agents.td3.learning import td3_networks, td3_update
from jaxrl.agents.td3_bc.config import Config, HParams
from jaxrl.loops import off_policy, offline
from jaxrl.types import Agent, Array, EnvSpec, PRNGKey, Transition


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """TD3+BC's `Agent` bundle for an environment `spec`."""
    actor, critic, first_q = td3_networks(config, spec)

    def init(key: PRNGKey, spec: EnvSpec, hparams: HParams) -> AgentState:
        return init_deterministic(actor, critic, key, hparams)

    def act(state: AgentState, actor_state: None, observation: Array, key: PRNGKey, hparams: HParams,
            eval: bool = True, env_steps: Array | None = None):
        return actor.apply(state.actor_params, observation), actor_state, {}

    def update(state: AgentState, batch: off_policy.ReplayBatch, key: PRNGKey, hparams: HParams):
        return td3_update(config, actor, critic, first_q, state, batch, key, hparams, bc_alpha=hparams.alpha)

    return Agent(init=init, act=act, update=update)


def make_train(config: Config, dataset: Transition | None = None) -> offline.OfflineTrain:
    """TD3+BC's offline program on `dataset` (a `Transition` of rows), or on the directory
    `config.dataset` if None: `train(key, hparams=None, dataset=None)`."""
    return builder.offline_train(config, Config, make_agent, dataset)
