"""SQIL's configurations, one per base agent (`direct_rl`): the base's fields and the
demonstrations block. `sqil.Config` is SQIL on SAC; `sqil.config(direct_rl="dqn", ...)` (or
`--direct-rl dqn` on the command line) gives SQIL on DQN."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from jaxrl.agents.config import DemonstrationsConfig, OneOf, variant
from jaxrl.agents.dqn import config as dqn_config
from jaxrl.agents.sac import config as sac_config

_ABOUT = """Soft Q Imitation Learning (Reddy, Dragan & Levine 2020, "SQIL: Imitation Learning via
    Reinforcement Learning with Sparse Rewards", arXiv:1905.11108): the base agent learns from
    batches that are half demonstrations, every reward relabelled, 1 on the demonstrations' rows
    and 0 on its own; the environment's rewards are never used (only reported). Needs
    `demonstrations`, collected in `env`."""


@dataclasses.dataclass(frozen=True)
class SACConfig(DemonstrationsConfig, sac_config.Config):
    __doc__ = _ABOUT + "\n\n    On SAC (Haarnoja et al. 2018), for continuous actions."

    agent = "sqil"
    defaults = dict(demonstration_ratio=0.5)

    direct_rl: Literal["sac", "dqn"] = "sac"
    """The base agent: "sac" (continuous actions) or "dqn" (discrete), each with its own fields."""

    ranges = dict(direct_rl=OneOf(("sac", "dqn")))


@dataclasses.dataclass(frozen=True)
class DQNConfig(DemonstrationsConfig, dqn_config.Config):
    __doc__ = _ABOUT + "\n\n    On DQN (Mnih et al. 2015; double Q-learning by default), for discrete actions."

    agent = "sqil"
    defaults = dict(demonstration_ratio=0.5)

    direct_rl: Literal["sac", "dqn"] = "dqn"
    """The base agent: "sac" (continuous actions) or "dqn" (discrete), each with its own fields."""

    ranges = dict(direct_rl=OneOf(("sac", "dqn")))


SACConfig.variants = DQNConfig.variants = {"sac": SACConfig, "dqn": DQNConfig}
Config = SACConfig


def config(direct_rl: str = "sac", **fields: Any) -> Any:
    """SQIL's Config on the base agent `direct_rl` ("sac" or "dqn") with `fields` set."""
    return variant(Config, direct_rl)(**fields)
