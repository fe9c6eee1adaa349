"""SQIL's program: the base agent (SAC's or DQN's `make_agent`) with every replayed batch's
rewards relabelled (1 on the demonstration rows, 0 on the agent's own), on the off-policy loop with
demonstrations mixed into its replay (`builder.demonstrations_train`)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jaxrl import datasets
from jaxrl.agents import builder
from jaxrl.agents.dqn import learning as dqn_learning
from jaxrl.agents.sac import learning as sac_learning
from jaxrl.agents.config import family_class
from jaxrl.agents.sqil.config import Config, DQNConfig
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, EnvSpec, Transition


def relabel(batch: off_policy.ReplayBatch) -> off_policy.ReplayBatch:
    """`batch` with SQIL's rewards: 1 where `extras["demonstration"]` marks a demonstration row, else 0."""
    t = batch.transitions
    reward = t.extras[datasets.DEMONSTRATION].astype(jnp.result_type(t.reward))
    return batch._replace(transitions=t._replace(reward=reward))


def make_agent(config: Any, spec: EnvSpec) -> Agent:
    """SQIL's `Agent` bundle: the base agent's, whose updates see relabelled rewards."""
    base = (sac_learning.make_agent if config.direct_rl == "sac" else dqn_learning.make_agent)(config, spec)
    return base._replace(update=lambda state, batch, key, hparams: base.update(state, relabel(batch), key, hparams))


def make_train(config: Any, demonstrations: Transition | None = None) -> Train:
    """SQIL's training program on `demonstrations` (a `Transition` of rows), or on the directory
    `config.demonstrations` if None: `train(key, hparams=None) -> TrainOutput`."""
    config_cls = family_class(Config, config)
    make_buffer = dqn_learning.make_buffer if config_cls is DQNConfig else None
    return builder.demonstrations_train(config, config_cls, make_agent, demonstrations, make_buffer=make_buffer)
