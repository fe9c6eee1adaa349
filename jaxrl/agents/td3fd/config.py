"""TD3fD's configuration: TD3's, with the demonstrations block."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.config import DemonstrationsConfig
from jaxrl.agents.td3 import config as td3_config


@dataclasses.dataclass(frozen=True)
class Config(DemonstrationsConfig, td3_config.Config):
    """TD3 from demonstrations: TD3 (Fujimoto et al. 2018) whose every replayed batch holds a fixed
    share (`demonstration_ratio`) of rows from a dataset of demonstrations, the rest from its own
    replay (DDPGfD's idea, Vecerik et al. 2017, arXiv:1707.08817, on TD3, without its prioritised
    replay). Needs `demonstrations`, collected in `env`."""

    agent = "td3fd"
