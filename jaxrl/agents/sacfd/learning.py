"""SACfD's program: SAC's agent (`sac.make_agent`) on the off-policy loop, its replay mixed with
demonstrations (`builder.demonstrations_train`)."""

from __future__ import annotations

from jaxrl.agents import builder
from jaxrl.agents.sac.learning import make_agent
from jaxrl.agents.sacfd.config import Config
from jaxrl.loops.common import Train
from jaxrl.types import Transition


def make_train(config: Config, demonstrations: Transition | None = None) -> Train:
    """SACfD's training program on `demonstrations` (a `Transition` of rows), or on the directory
    `config.demonstrations` if None: `train(key, hparams=None) -> TrainOutput`."""
    return builder.demonstrations_train(config, Config, make_agent, demonstrations)


__all__ = ["make_agent", "make_train"]
