"""DQfD's configuration: DQN's, with the demonstrations block and the large-margin loss."""

from __future__ import annotations

import dataclasses

import flax.struct

from jaxrl.agents.config import NON_NEGATIVE, DemonstrationsConfig
from jaxrl.agents.dqn import config as dqn_config
from jaxrl.types import Array


@flax.struct.dataclass
class HParams(dqn_config.HParams):
    """DQfD's numeric hyperparameters: DQN's and the large-margin loss's weight and margin."""

    margin_weight: Array
    margin: Array


@dataclasses.dataclass(frozen=True)
class Config(DemonstrationsConfig, dqn_config.Config):
    """Deep Q-learning from Demonstrations (Hester, Vecerik, Pietquin et al. 2018, "Deep Q-learning
    from Demonstrations", arXiv:1704.03732): DQN (double Q-learning by default) whose every replayed
    batch holds a fixed share (`demonstration_ratio`) of demonstration rows, plus on those rows the
    large-margin loss `margin_weight` * (max_a [Q(s, a) + margin * 1(a != a_E)] - Q(s, a_E)), which
    makes the demonstrator's action the greedy one. Without the paper's pre-training phase, its
    n-step term and its L2 penalty; `margin_weight` 0 leaves DQN with demonstrations in replay.
    Needs `demonstrations`, collected in `env`."""

    agent = "dqfd"
    HParams = HParams

    margin_weight: float = 1.0
    """Weight of the large-margin loss on the demonstration rows (the paper's lambda_2); 0 turns it off."""
    margin: float = 0.8
    """The margin l(a_E, a) by which the demonstrator's action must outvalue every other."""

    ranges = dict(margin_weight=NON_NEGATIVE, margin=NON_NEGATIVE)
