"""Regularized Behavior Value Estimation (Gulcehre et al. 2021) on the offline loop, for discrete actions."""

from jaxrl.agents.bve.config import Config, HParams
from jaxrl.agents.bve.learning import bve_loss, make_agent, make_train
from jaxrl.agents.dqn.learning import AgentState
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "HParams", "bve_loss", "make_agent", "make_policy", "make_train"]
