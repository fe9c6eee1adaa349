"""SACfD's configuration: SAC's, with the demonstrations block."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.config import DemonstrationsConfig
from jaxrl.agents.sac import config as sac_config


@dataclasses.dataclass(frozen=True)
class Config(DemonstrationsConfig, sac_config.Config):
    """SAC from demonstrations: SAC (Haarnoja et al. 2018) whose every replayed batch holds a
    fixed share (`demonstration_ratio`) of rows from a dataset of demonstrations, the rest from its
    own replay, as DDPGfD does for DDPG (Vecerik et al. 2017, "Leveraging Demonstrations for Deep
    Reinforcement Learning on Robotics Problems with Sparse Rewards", arXiv:1707.08817) without its
    prioritised replay: the demonstrations' rewards are the environment's, so the critics learn
    from them as from any transition. Needs `demonstrations`, collected in `env`."""

    agent = "sacfd"
