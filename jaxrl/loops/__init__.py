"""Generic compiled training programs; a loop never imports a specific agent."""

from jaxrl.loops import on_policy
from jaxrl.loops.common import Train, TrainOutput, TrainState

__all__ = ["Train", "TrainOutput", "TrainState", "on_policy"]
