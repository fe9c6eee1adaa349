"""TD3fD's program: TD3's agent (`td3.make_agent`) on the off-policy loop, its replay mixed with
demonstrations (`builder.demonstrations_train`)."""

from __future__ import annotations

from jaxrl.agents import builder
from jaxrl.agents.td3.learning import make_agent
from jaxrl.agents.td3fd.config import Config
from jaxrl.loops.common import Train
from jaxrl.types import Transition


def make_train(config: Config, demonstrations: Transition | None = None) -> Train:
    """TD3fD's training program on `demonstrations` (a `Transition` of rows), or on the directory
    `config.demonstrations` if None: `train(key, hparams=None) -> TrainOutput`."""
    return builder.demonstrations_train(config, Config, make_agent, demonstrations)


__all__ = ["make_agent", "make_train"]
